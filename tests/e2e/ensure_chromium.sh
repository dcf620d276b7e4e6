#!/bin/sh
# The browser tests drive Debian's Chromium (never a downloaded browser build). Install the
# `chromium` package when it is missing and we may (root); otherwise say why the tests will skip.
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit $?
fi
echo "no /usr/bin/chromium and not root: the browser tests will skip (they fail under CI=true)"
