"""Natural-language understanding: Rasa-format data, built-in classifier, Rasa HTTP backend."""
