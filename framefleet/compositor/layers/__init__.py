"""One module per clip type, each turning a planned clip into ffmpeg-python streams.

Visual layers return a :class:`~framefleet.compositor.layers.base.Placed` (a stream on the output's time
grid plus where to overlay it); ``graph.py`` stacks them in track order. ``audio.py`` builds the mix.
"""
