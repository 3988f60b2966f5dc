#!/usr/bin/env python3
"""Write the C example of README.md (the ```c block under "Using libvae from C")
to a file, so the build compiles exactly what the README shows."""
import re
import sys

text = open(sys.argv[1], encoding='utf-8').read()
section = text.split('## Using libvae from C', 1)
if len(section) != 2:
    sys.exit('README.md: section "Using libvae from C" not found')
m = re.search(r'```c\n(.*?)```', section[1], re.S)
if not m:
    sys.exit('README.md: no ```c block in "Using libvae from C"')
open(sys.argv[2], 'w', encoding='utf-8').write(m.group(1))
