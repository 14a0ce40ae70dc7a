// The transcript follows the recording: the turn being played is highlighted and kept in view;
// clicking a turn plays the recording from there.  The first play is written to the audit log.
(function () {
  const audio = document.getElementById("recording");
  if (!audio) return;
  const turns = Array.from(document.querySelectorAll("#transcript .turn"));
  let reported = false;
  let current = null;
  function follow() {
    const ms = audio.currentTime * 1000;
    let found = null;
    for (const t of turns) { if (Number(t.dataset.at) <= ms) found = t; }
    if (found !== current) {
      if (current) current.classList.remove("playing");
      if (found) { found.classList.add("playing"); found.scrollIntoView({block: "nearest"}); }
      current = found;
    }
  }
  audio.addEventListener("timeupdate", follow);
  audio.addEventListener("seeked", follow);
  audio.addEventListener("play", function () {
    if (reported) return;
    reported = true;
    fetch(location.pathname.replace(/\/calls\/([^/]+)$/, "/api/calls/$1/played"), {method: "POST"});
  });
  for (const t of turns) {
    t.addEventListener("click", function (ev) {
      if (ev.target.closest("form")) return;
      audio.currentTime = Number(t.dataset.at) / 1000;
      audio.play();
    });
  }
})();
