"""A completion-time CDF as a PNG, in plain python3 (no matplotlib on these machines)."""

import struct
import zlib

_FONT = {  # 5x7, rows top to bottom
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    "A": "01110 10001 10001 11111 10001 10001 10001",
    "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110",
    "D": "11100 10010 10001 10001 10001 10010 11100",
    "E": "11111 10000 10000 11110 10000 10000 11111",
    "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111",
    "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110",
    "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001",
    "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001",
    "N": "10001 10001 11001 10101 10011 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110",
    "P": "11110 10001 10001 11110 10000 10000 10000",
    "Q": "01110 10001 10001 10001 10101 10010 01101",
    "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110",
    "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110",
    "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010",
    "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 10001 01010 00100 00100 00100",
    "Z": "11111 00001 00010 00100 01000 10000 11111",
    " ": "00000 00000 00000 00000 00000 00000 00000",
    ".": "00000 00000 00000 00000 00000 01100 01100",
    ",": "00000 00000 00000 00000 01100 00100 01000",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    "(": "00010 00100 01000 01000 01000 00100 00010",
    ")": "01000 00100 00010 00010 00010 00100 01000",
    "/": "00000 00001 00010 00100 01000 10000 00000",
    ":": "00000 01100 01100 00000 01100 01100 00000",
    "%": "11000 11001 00010 00100 01000 10011 00011",
    "=": "00000 00000 11111 00000 11111 00000 00000",
}


class Canvas:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = bytearray(b"\xff" * (w * h * 3))

    def dot(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i:i + 3] = bytes(c)

    def rect(self, x0, y0, x1, y1, c):
        for y in range(max(0, y0), min(self.h, y1 + 1)):
            for x in range(max(0, x0), min(self.w, x1 + 1)):
                self.dot(x, y, c)

    def line(self, x0, y0, x1, y1, c, width=1, dash=0):
        x0, y0, x1, y1 = (int(round(v)) for v in (x0, y0, x1, y1))
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err, n = dx + dy, 0
        while True:
            if not dash or (n // dash) % 2 == 0:
                r = width // 2
                for ox in range(-r, width - r):
                    for oy in range(-r, width - r):
                        self.dot(x0 + ox, y0 + oy, c)
            n += 1
            if x0 == x1 and y0 == y1:
                break
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self, x, y, s, c=(0, 0, 0), scale=2, vertical=False):
        for ch in s.upper():
            rows = _FONT.get(ch, _FONT[" "]).split()
            for ry, row in enumerate(rows):
                for rx, bit in enumerate(row):
                    if bit == "1":
                        for a in range(scale):
                            for b in range(scale):
                                if vertical:  # rotated 90 degrees counter-clockwise
                                    self.dot(x + ry * scale + b, y - rx * scale - a, c)
                                else:
                                    self.dot(x + rx * scale + a, y + ry * scale + b, c)
            if vertical:
                y -= 6 * scale
            else:
                x += 6 * scale

    @staticmethod
    def text_width(s, scale=2):
        return len(s) * 6 * scale

    def png(self, path):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3])
                       for y in range(self.h))

        def chunk(kind, data):
            return (struct.pack(">I", len(data)) + kind + data
                    + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))

        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
            f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)))
            f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
            f.write(chunk(b"IEND", b""))


def nice_step(span, target=8):
    raw = span / target
    mag = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    while mag > raw:
        mag /= 10
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def write_chart(path, series, ideal, title):
    """series: [(label, [seconds], rgb)]; a CDF of completion times per series."""
    W, H = 960, 600
    L, R, T, B = 120, 30, 90, 80
    cv = Canvas(W, H)
    xmax = max([ideal] + [max(t) for _, t, _ in series if t]) * 1.05
    step = nice_step(xmax)
    xmax = step * (int(xmax / step) + 1)
    px = lambda x: L + (W - L - R) * x / xmax  # noqa: E731
    py = lambda y: H - B - (H - T - B) * y  # noqa: E731
    grey, black = (220, 220, 220), (0, 0, 0)
    x = 0.0
    while x <= xmax + 1e-9:
        cv.line(px(x), py(0), px(x), py(1), grey)
        lab = f"{x:g}"
        cv.text(int(px(x)) - cv.text_width(lab) // 2, H - B + 10, lab)
        x += step
    for i in range(5):
        y = i / 4
        cv.line(px(0), py(y), px(xmax), py(y), grey)
        lab = f"{y:.2f}"
        cv.text(L - 10 - cv.text_width(lab), int(py(y)) - 7, lab)
    cv.line(px(0), py(0), px(xmax), py(0), black)
    cv.line(px(0), py(0), px(0), py(1), black)
    cv.text(L + (W - L - R - cv.text_width("COMPLETION TIME (S)")) // 2, H - 35,
            "COMPLETION TIME (S)")
    cv.text(16, H - B - (H - T - B - cv.text_width("FRACTION OF HOSTS DONE")) // 2,
            "FRACTION OF HOSTS DONE", vertical=True)
    cv.text((W - cv.text_width(title)) // 2, 20, title)
    cv.line(px(ideal), py(0), px(ideal), py(1), (120, 120, 120), width=2, dash=6)
    legend = [(f"IDEAL {ideal:.1f} S", (120, 120, 120))]
    for label, times, color in series:
        if not times:
            continue
        s = sorted(times)
        n = len(s)
        xp, yp = 0.0, 0.0
        for i, t in enumerate(s):
            cv.line(px(xp), py(yp), px(t), py(yp), color, width=3)
            cv.line(px(t), py(yp), px(t), py((i + 1) / n), color, width=3)
            xp, yp = t, (i + 1) / n
        cv.line(px(xp), py(yp), px(xmax), py(yp), color, width=3)
        legend.append((label, color))
    # Legend in one row between the title and the plot, so it never hides a curve.
    total = sum(40 + cv.text_width(label) + 30 for label, _ in legend) - 30
    lx, y = (W - total) // 2, 52
    for label, color in legend:
        cv.rect(lx, y + 4, lx + 30, y + 9, color)
        cv.text(lx + 40, y, label)
        lx += 40 + cv.text_width(label) + 30
    cv.png(path)
