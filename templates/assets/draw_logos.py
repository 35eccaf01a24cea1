"""Draws the shipped templates' logos (run from the repo root:
python templates/assets/draw_logos.py).

Every logo is drawn here with Pillow, at 4× and scaled down for smooth edges; nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
SS = 4


def font(name: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for base in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation"):
        p = Path(base) / name
        if p.is_file():
            return ImageFont.truetype(str(p), size)
    return ImageFont.load_default(size=size)


def finish(img: Image.Image, out: str) -> None:
    w, h = img.size
    img.resize((w // SS, h // SS), Image.LANCZOS).save(HERE / out, optimize=True)


def news() -> None:
    w, h = 520 * SS, 150 * SS
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, 190 * SS, h - 1), radius=18 * SS, fill=(215, 38, 61, 255))
    d.rounded_rectangle((170 * SS, 0, w - 1, h - 1), radius=18 * SS, fill=(255, 255, 255, 255))
    d.rectangle((170 * SS, 0, 200 * SS, h - 1), fill=(215, 38, 61, 255))
    f = font("LiberationSans-Bold.ttf", 104 * SS)
    d.text((95 * SS, h // 2), "NA", font=f, fill=(255, 255, 255, 255), anchor="mm")
    d.text((360 * SS, h // 2), "NEWS", font=f, fill=(11, 31, 58, 255), anchor="mm")
    finish(img, "news-logo.png")


def explainer() -> None:
    w, h = 400 * SS, 400 * SS
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    teal, cream = (26, 158, 143, 255), (244, 239, 230, 255)
    d.ellipse((0, 0, w - 1, h - 1), fill=teal)
    d.ellipse((24 * SS, 24 * SS, w - 24 * SS, h - 24 * SS), outline=cream, width=10 * SS)
    # a question mark turning into a lit dot: "explained"
    d.text(
        (w // 2, h // 2 - 20 * SS),
        "?",
        font=font("DejaVuSerif-Bold.ttf", 230 * SS),
        fill=cream,
        anchor="mm",
    )
    d.ellipse((w // 2 - 26 * SS, 290 * SS, w // 2 + 26 * SS, 342 * SS), fill=(255, 210, 63, 255))
    finish(img, "explainer-logo.png")


def shorts() -> None:
    w, h = 400 * SS, 400 * SS
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, w - 1, h - 1), radius=96 * SS, fill=(255, 230, 0, 255))
    d.rounded_rectangle(
        (28 * SS, 28 * SS, w - 28 * SS, h - 28 * SS), radius=72 * SS, fill=(230, 0, 126, 255)
    )
    # a lightning bolt
    bolt = [(230, 60), (120, 220), (195, 220), (160, 345), (290, 170), (212, 170), (250, 60)]
    d.polygon([(x * SS, y * SS) for x, y in bolt], fill=(255, 230, 0, 255))
    finish(img, "shorts-logo.png")


if __name__ == "__main__":
    news()
    explainer()
    shorts()
