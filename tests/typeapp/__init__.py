"""An installed app used only by the tests, to prove that other apps can add credential types."""
