"""An alert's delivery curve as a PNG (matplotlib, drawn off screen).

`draw` draws in this process; `draw_apart` runs `python -m bot.core.chart` (this module: the
curves as JSON on stdin, the PNG on stdout), so that matplotlib's import and first drawing,
over a second of one interpreter, never hold up a process that answers webhooks. The module
imports nothing of the bot: the child starts with matplotlib alone.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys

MILESTONES = (0.5, 0.9, 0.99)  # marked as lines across
ALL = "all"
TIMEOUT = 60.0  # seconds the child may take


def draw(title: str, curves: dict[str, tuple[int, list[float]]]) -> bytes:
    """The share of recipients sent to over the seconds after the approval: one line per
    channel (`curves`: name -> (recipients, sorted seconds of each send)), "all" thicker."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.subplots()
    for name, (recipients, seconds) in curves.items():
        if not recipients:
            continue
        xs = [0.0, *seconds]
        ys = [0.0, *(100 * (i + 1) / recipients for i in range(len(seconds)))]
        axes.step(xs, ys, where="post", label=f"{name} ({recipients})",
                  linewidth=2.5 if name == ALL else 1.5)  # fmt: skip
    for share in MILESTONES:
        axes.axhline(100 * share, color="grey", linewidth=0.6, linestyle=":")
    axes.set_ylim(0, 101)
    axes.set_xlim(left=0)
    axes.set_xlabel("seconds after approval")
    axes.set_ylabel("% of recipients sent to")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


async def draw_apart(title: str, curves: dict[str, tuple[int, list[float]]]) -> bytes:
    """`draw` in a child process; raises RuntimeError if it fails or takes over TIMEOUT.
    Run from a thread (subprocess.run): cancelled, the caller stops waiting while the thread
    still reaps the child and closes its pipes."""
    given = json.dumps({"title": title, "curves": curves}).encode()
    command = [sys.executable, "-m", "bot.core.chart"]
    try:
        done = await asyncio.to_thread(
            subprocess.run, command, input=given, capture_output=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError("the chart took too long") from None
    if done.returncode != 0 or not done.stdout:
        raise RuntimeError(f"the chart failed (exit {done.returncode})")
    return done.stdout


def main() -> None:
    given = json.load(sys.stdin)
    curves = {str(k): (int(v[0]), [float(s) for s in v[1]]) for k, v in given["curves"].items()}
    sys.stdout.buffer.write(draw(str(given["title"]), curves))


if __name__ == "__main__":
    main()
