"""Shotstack's names and numbers, and framefleet's for each: one table per kind of field.

Where Shotstack's reference gives no number (how long a ``fade`` lasts, how large ``medium`` text is),
the value here is the one documented in the README's mapping table.
"""

from __future__ import annotations

#: ``output.resolution``: width x height of the 16:9 frame; the short side for other aspect ratios.
RESOLUTIONS = {"preview": (512, 288), "mobile": (640, 360), "sd": (1024, 576), "hd": (1280, 720),
               "1080": (1920, 1080), "4k": (3840, 2160)}
ASPECT_RATIOS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:5": (4, 5), "4:3": (4, 3)}
DEFAULT_RESOLUTION = "sd"
DEFAULT_FPS = 25.0
QUALITY = {"verylow": "draft", "low": "draft", "medium": "standard", "high": "high", "veryhigh": "high"}
FORMATS = ("mp4", "gif", "mp3", "jpg", "png", "webm")

#: ``clip.fit``: Shotstack's ``crop`` fills and crops (our ``cover``); its ``cover`` stretches (our ``fill``).
FIT = {"crop": "cover", "cover": "fill", "contain": "contain", "none": "none"}
POSITION = {"center": "center", "top": "top", "bottom": "bottom", "left": "left", "right": "right",
            "topLeft": "top_left", "topRight": "top_right", "bottomLeft": "bottom_left",
            "bottomRight": "bottom_right"}

#: Transition lengths: Shotstack's plain transition, its ``Fast`` and its ``Slow`` variant (seconds).
TRANSITION_SECONDS = {"": 1.0, "Fast": 0.5, "Slow": 2.0}
#: ``carousel*`` slides the whole clip in or out: framefleet's ``slide_*``. Shotstack's ``slide*`` moves
#: the clip a little way while it fades (``drift_*``); ``wipe*`` fades across the clip behind a moving
#: edge; ``reveal`` uncovers it from left to right.
TRANSITIONS = {"fade": "fade", "zoom": "zoom", "carouselLeft": "slide_left", "carouselRight": "slide_right",
               "carouselUp": "slide_up", "carouselDown": "slide_down", "reveal": "reveal",
               "wipeLeft": "wipe_left", "wipeRight": "wipe_right", "wipeUp": "wipe_up", "wipeDown": "wipe_down",
               "slideLeft": "drift_left", "slideRight": "drift_right", "slideUp": "drift_up",
               "slideDown": "drift_down"}
UNSUPPORTED_TRANSITIONS = ("shuffleTopRight", "shuffleRightTop", "shuffleRightBottom", "shuffleBottomRight",
                           "shuffleBottomLeft", "shuffleLeftBottom", "shuffleLeftTop", "shuffleTopLeft")
#: Shotstack's ``slideLeft`` effect moves the picture left: the camera pans right.
EFFECTS = {"zoomIn": "zoom_in", "zoomOut": "zoom_out", "slideLeft": "pan_right", "slideRight": "pan_left",
           "slideUp": "pan_down", "slideDown": "pan_up"}
FILTERS = ("greyscale", "boost", "contrast", "darken", "lighten", "muted", "negative", "blur")

#: Tweens (keyframes of opacity, offset and scale): interpolations as ours; easings in framefleet's names.
#: Shotstack's expo, circ and back curves have no counterpart and are refused.
INTERPOLATIONS = ("linear", "bezier", "constant")
EASINGS = {"linear": "linear", "ease": "ease", "easeIn": "ease_in", "easeOut": "ease_out", "easeInOut": "ease_in_out",
           **{f"ease{kind}{family}": f"ease_{snake}_{family.lower()}"
              for kind, snake in (("In", "in"), ("Out", "out"), ("InOut", "in_out"))
              for family in ("Quad", "Cubic", "Quart", "Quint", "Sine")}}

#: ``effect`` of the soundtrack and audio clips, and how long each fade lasts (seconds).
AUDIO_EFFECTS = {"fadeIn": (True, False), "fadeOut": (False, True), "fadeInFadeOut": (True, True)}
AUDIO_FADE_SECONDS = 1.0

#: The legacy ``title`` asset's sizes, in pixels of a frame whose short side is 1080.
TITLE_SIZES = {"xx-small": 24, "x-small": 32, "small": 44, "medium": 60, "large": 80, "x-large": 108,
               "xx-large": 144}

#: Why a field has no counterpart, and what to use instead.
INSTEAD = {
    "edit.disk": "framefleet has no render disk setting: remove it",
    "output.destinations": "not supported: results go to framefleet's storage (FRAMEFLEET_STORAGE_URL)",
    "transform.skew": "skewing is not supported: remove skew (rotate and flip are)",
    "clip.width": "not supported: size the clip with fit and scale",
    "clip.height": "not supported: size the clip with fit and scale",
    "clip.alias": "not supported: framefleet has no clip references; remove alias",
    "asset.chromaKey": "not supported: key the source before rendering",
    "asset.transcode": "not needed: framefleet decodes every source it accepts; remove transcode",
    "asset.volumeEffect": "not supported on video: use a separate audio asset with effect",
    "asset.animation": "text animations are not supported: use a transition",
    "asset.stroke": "not supported on this asset: use a title with the html asset",
}
ASSETS_INSTEAD = {
    "shape": "not supported: use an image asset (PNG) of the shape",
    "svg": "not supported: use an image asset (PNG)",
    "rich-text": "not supported: use an html asset (p and span with CSS) or a text asset",
    "text-to-speech": "not supported in edits: submit a speech_from_text job and use its result as an audio src",
    "text-to-image": "not supported in edits: submit an image_from_text job and use its result as an image src",
    "image-to-video": "not supported in edits: submit a video_from_image job and use its result as a video src",
}
