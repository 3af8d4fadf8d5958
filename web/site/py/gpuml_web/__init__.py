"""The page's Python package (installed into Pyodide's site-packages by worker.js from the site's ``py/`` files).

worker.js calls the functions re-exported here by name. A new demo adds a module with an ``__all__`` and one line
below.
"""

import js

from .augment import *  # noqa: F403
from .builder import *  # noqa: F403
from .convbench import *  # noqa: F403
from .core import *  # noqa: F403
from .kmeans import *  # noqa: F403
from .pad import *  # noqa: F403
from .race import *  # noqa: F403
from .regularization import *  # noqa: F403
from .train import *  # noqa: F403

js.console.log("gpuml web app loaded")
