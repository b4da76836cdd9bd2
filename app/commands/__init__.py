"""Each mutation one function (lock → read → decide → append), usable from any entry point."""
