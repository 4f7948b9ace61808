"""The app with one of its own pieces switched back to the library's way, for `bench.library_way`.

One settings module per piece (`bench.library.settings_<piece>`): the bench's settings plus that
one switch, made at startup and nowhere in the app. A piece that the library's own settings can
express is switched there (authentication); the others are switched by `LibraryWayConfig.ready()`
(bench/library/apps.py), which calls the piece's function in bench/library/ways.py.
"""
