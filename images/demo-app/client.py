"""Demo caller: GETs demo-app every 30 seconds and logs the outcome."""

import os
import time
import urllib.error
import urllib.request

URL = os.environ["TARGET_URL"]

while True:
    try:
        with urllib.request.urlopen(URL, timeout=5) as resp:
            print(f"{URL} -> {resp.status}", flush=True)
    except (urllib.error.URLError, OSError) as err:
        print(f"{URL} -> {err}", flush=True)
    time.sleep(30)
