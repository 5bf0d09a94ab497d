"""mitmproxy entry point: `mitmdump -s addon/main.py`. The code lives in the cot_proxy package.

mitmproxy puts this file's folder on sys.path only while it runs this module,
so the package import must happen here, at top level.
"""

from cot_proxy.addon import CotProxy

addons = [CotProxy()]
