"""Writes pil-golden.json: what Pillow's BICUBIC resize (as CLIP's preprocessing calls it) gives for
test pictures, to check src/main/engine/clip/preprocess.ts against an independent implementation.

Run with Debian's Python and python3-pil (Pillow 9.4 here):  /usr/bin/python3 make-pil-golden.py
then `npx prettier --write pil-golden.json`.
The pictures are made from a formula the TypeScript test repeats (pattern below).
"""
import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def pattern(width, height):
    y, x, c = np.meshgrid(np.arange(height), np.arange(width), np.arange(3), indexing="ij")
    return ((x * 37 + y * 91 + c * 53 + ((x * y) % 7) * 29 + ((x // 5) % 2) * 101) % 256).astype(np.uint8)


def resize_size(width, height, shortest):
    short, long = min(width, height), max(width, height)
    new_long = int(shortest * long / short)
    return (shortest, new_long) if width <= height else (new_long, shortest)


cases = []
for width, height, shortest, crop in [(37, 23, 12, 12), (640, 480, 224, 224), (150, 100, 224, 224), (224, 224, 224, 224), (23, 41, 30, 30)]:
    image = Image.fromarray(pattern(width, height), "RGB")
    rw, rh = resize_size(width, height, shortest)
    resized = image.resize((rw, rh), resample=Image.BICUBIC)
    arr = np.asarray(resized)
    top, left = int((rh - crop) / 2), int((rw - crop) / 2)
    cropped = arr[top : top + crop, left : left + crop]
    pixel_values = ((cropped.astype(np.float64) * (1 / 255)).astype(np.float32) - MEAN) / STD
    pixel_values = pixel_values.transpose(2, 0, 1)
    case = {
        "width": width,
        "height": height,
        "shortestEdge": shortest,
        "crop": crop,
        "resizedWidth": rw,
        "resizedHeight": rh,
        "resizedSha256": hashlib.sha256(arr.tobytes()).hexdigest(),
        "croppedSha256": hashlib.sha256(np.ascontiguousarray(cropped).tobytes()).hexdigest(),
        "resizedFirstRow": arr[0].reshape(-1)[:24].tolist(),
        "pixelValuesSum": float(pixel_values.astype(np.float64).sum()),
        "pixelValuesHead": [float(v) for v in pixel_values.reshape(-1)[:16]],
    }
    if rw * rh <= 2000:
        case["resized"] = arr.reshape(-1).tolist()
    cases.append(case)

lines = ",\n  ".join(json.dumps(case) for case in cases)
Path(__file__).with_name("pil-golden.json").write_text(
    f'{{\n "pillow": "{Image.__version__}",\n "cases": [\n  {lines}\n ]\n}}\n'
)
