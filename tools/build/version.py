#!/usr/bin/env python3
"""Print MAJOR.MINOR.PATCH from include/vae/version.h: the one source of truth."""
import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))
text = open(os.path.join(here, '..', '..', 'include', 'vae', 'version.h')).read()
parts = []
for name in ('MAJOR', 'MINOR', 'PATCH'):
    m = re.search(r'#define\s+VAE_VERSION_%s\s+(\d+)' % name, text)
    if not m:
        sys.exit('version.h: VAE_VERSION_%s not found' % name)
    parts.append(m.group(1))
print('.'.join(parts))
