"""How a turn is shown on a terminal, the same in `chat` and `simulate`."""

from __future__ import annotations

from rich.console import Console

from dialogue.session import TurnRecord


def show_turn(console: Console, turn: TurnRecord, *, nodes: bool = True) -> None:
    if turn.debtor_text is not None:
        nlu = turn.nlu or {}
        ents = ", ".join(f"{e['entity']}={e['value']}" for e in nlu.get("entities", []))
        console.print(f"[cyan]debtor[/] {turn.debtor_text}  [dim]({nlu.get('intent')} "
                      f"{nlu.get('confidence', 0):.2f}{'; ' + ents if ents else ''})[/]")
    elif turn.kind == "silence":
        console.print("[cyan]debtor[/] [dim]<silence>[/]")
    if turn.bot_text:
        trail = f"  [dim]{' > '.join(turn.bot_nodes)}[/]" if nodes else ""
        console.print(f"[green]bot[/]    {turn.bot_text}{trail}")
    for action in turn.actions:
        detail = action.get("reason") or action.get("template") or action.get("when") or ""
        console.print(f"       [magenta]action[/] {action['kind']} {detail}")
