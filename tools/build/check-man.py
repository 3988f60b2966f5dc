#!/usr/bin/env python3
"""Checks of the man pages in docs/man (meson suite docs).

    check-man.py lint PAGE...             groff -man -ww reports nothing
    check-man.py options PAGE PROGRAM     every --option of `PROGRAM --help` is in
                                          PAGE, and every one PAGE names is real
    check-man.py functions PAGE ROOT      PAGE names every public function of
                                          ROOT/include/vae/*.h
    check-man.py example PAGE OUT.c       write the C example of PAGE to OUT.c

Exit status 77 (meson's "skipped") when groff is not installed.
"""
import os
import re
import shutil
import subprocess
import sys


def roff_text(page):
    """The page's source with the roff escapes of code examples undone."""
    text = open(page, encoding='utf-8').read()
    return text.replace('\\e', '\\').replace('\\-', '-').replace('\\(aq', "'")


def lint(pages):
    groff = shutil.which('groff')
    if not groff:
        print('groff not found: skipped')
        sys.exit(77)
    bad = False
    for page in pages:
        res = subprocess.run([groff, '-man', '-ww', '-z', '-Tutf8', page],
                             capture_output=True, text=True)
        if res.returncode != 0 or res.stderr.strip():
            print('%s:\n%s' % (page, res.stderr.strip()))
            bad = True
        else:
            print('%s: no warnings' % page)
    sys.exit(1 if bad else 0)


def options(page, program):
    out = subprocess.run([program, '--help'], capture_output=True, text=True,
                         check=True).stdout
    help_opts = set(re.findall(r'^\s+(--[a-z][a-z-]*)', out, re.M))
    page_opts = set(re.findall(r'--[a-z][a-z-]*', roff_text(page)))
    errs = ['%s: %s of --help is not documented' % (page, o)
            for o in sorted(help_opts - page_opts)]
    errs += ['%s: names %s, which --help does not list' % (page, o)
             for o in sorted(page_opts - help_opts)]
    if errs:
        sys.exit('\n'.join(errs))
    print('%s: documents the %d options of %s' % (page, len(help_opts),
                                                 os.path.basename(program)))


def functions(page, root):
    sys.path.insert(0, os.path.join(root, 'tools', 'build'))
    import importlib
    symbols = importlib.import_module('abi-symbols')
    text = roff_text(page)
    names = [n for n, _, _ in symbols.header_declarations(root)]
    missing = [n for n in names if not re.search(r'\b%s\b' % re.escape(n), text)]
    if missing:
        sys.exit('%s does not name these public functions (add them under '
                 '"Functions"):\n  %s' % (page, '\n  '.join(missing)))
    print('%s: names all %d public functions' % (page, len(names)))


def example(page, out):
    section = roff_text(page).split('.SH EXAMPLES', 1)
    m = re.search(r'^\.EX\n(.*?)^\.EE', section[-1], re.S | re.M) if len(section) == 2 else None
    if not m:
        sys.exit('%s: no .EX/.EE block under EXAMPLES' % page)
    open(out, 'w', encoding='utf-8').write(m.group(1))


def main():
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == 'lint':
        lint(a[1:])
    elif len(a) == 3 and a[0] == 'options':
        options(a[1], a[2])
    elif len(a) == 3 and a[0] == 'functions':
        functions(a[1], a[2])
    elif len(a) == 3 and a[0] == 'example':
        example(a[1], a[2])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
