#!/usr/bin/env python3
"""Fail unless Doxygen's XML output documents every public declaration.

    check-apidoc.py XML_DIR SOURCE_ROOT

Doxygen (WARN_IF_UNDOCUMENTED, WARN_AS_ERROR) already fails on an undocumented
function, macro or type, but it silently skips a header that has no @file
comment and does not warn about enum values. This closes both gaps: every
include/vae/*.h must be a documented file, every member of it (functions,
macros, typedefs, enums and each of their values, structs and their fields)
must have a description, and every VAE_API function must be among them.
"""
import glob
import os
import sys
import xml.etree.ElementTree as ET


def described(node):
    return any(''.join(node.find(tag).itertext()).strip()
               for tag in ('briefdescription', 'detaileddescription')
               if node.find(tag) is not None)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    xml_dir, root = sys.argv[1:]
    sys.path.insert(0, os.path.join(root, 'tools', 'build'))
    symbols = __import__('abi-symbols')
    index = ET.parse(os.path.join(xml_dir, 'index.xml')).getroot()
    files = {c.findtext('name'): c.get('refid') for c in index.findall('compound')
             if c.get('kind') == 'file'}
    errs, documented = [], set()
    for path in sorted(glob.glob(os.path.join(root, 'include', 'vae', '*.h'))):
        name = os.path.basename(path)
        if name not in files:
            errs.append('include/vae/%s: not in the reference: its top comment needs '
                        '"/** @file ... */"' % name)
            continue
        doc = ET.parse(os.path.join(xml_dir, files[name] + '.xml')).getroot()
        if not described(doc.find('compounddef')):
            errs.append('include/vae/%s: no file description: its top comment needs '
                        '"/** @file ... */"' % name)
        refs = [doc]
        for inner in doc.iter('innerclass'):  # structs: check their fields too
            refs.append(ET.parse(os.path.join(xml_dir, inner.get('refid') + '.xml')).getroot())
        for tree in refs:
            for m in tree.iter('memberdef'):
                label = '%s %s' % (m.get('kind'), m.findtext('name'))
                if not described(m) and m.findtext('name'):
                    errs.append('include/vae/%s: %s is not documented' % (name, label))
                elif m.get('kind') == 'function':
                    documented.add(m.findtext('name'))
                for v in m.findall('enumvalue'):
                    if not described(v):
                        errs.append('include/vae/%s: enum value %s is not documented'
                                    % (name, v.findtext('name')))
            for c in tree.iter('compounddef'):
                if c.get('kind') == 'struct' and not described(c):
                    errs.append('include/vae/%s: struct %s is not documented'
                                % (name, c.findtext('compoundname')))
    public = {n for n, _, _ in symbols.header_declarations(root)}
    errs += ['%s is not in the reference' % n for n in sorted(public - documented)]
    if errs:
        sys.exit('\n'.join(errs))
    print('API reference: %d headers, %d public functions, every member documented'
          % (len(glob.glob(os.path.join(root, 'include', 'vae', '*.h'))), len(public)))


if __name__ == '__main__':
    main()
