"""gunicorn -c examples/logconfig/gunicorn_conf.py myproject.wsgi:application

gunicorn's own logging, plus the saasus_mw logger's step lines (one per step, with
its saasus_mw_* fields) on stderr. ``logconfig_dict`` replaces gunicorn's defaults
key by key, so they are copied and extended here rather than rewritten.
"""

import copy

from gunicorn.glogging import CONFIG_DEFAULTS

logconfig_dict = copy.deepcopy(CONFIG_DEFAULTS)
logconfig_dict["formatters"]["steps"] = {
    "()": "saasus_mw.cli.StepFormatter",
    "fmt": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
}
logconfig_dict["handlers"]["steps"] = {
    "class": "logging.StreamHandler",
    "formatter": "steps",
    "stream": "ext://sys.stderr",
}
logconfig_dict["loggers"]["saasus_mw"] = {"level": "INFO", "handlers": ["steps"], "propagate": False}
