"""What a PDF is, as PDF tools that are not ours read it.

usage: pdf_facts.py FILE...

Prints one JSON object: {FILE: facts}, where facts holds what pypdf reads
of the file's structure (pages, encryption, trailer ID, output intents,
fonts and whether each is embedded, embedded files with their
relationship, the document information), the XMP metadata's PDF/A
identification and Factur-X properties (parsed with lxml), and the
Factur-X XML as the `factur-x` package extracts it (which also checks it
against the Factur-X XSD), with its SHA-256.
"""

import hashlib
import json
import sys

import facturx
import pypdf
from lxml import etree

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "fx": "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
}


def text(node, path):
    found = node.find(path, NS)
    return None if found is None else found.text


def fonts_of(reader):
    fonts = {}
    for page in reader.pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            name = str(font.get("/BaseFont"))
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            descriptor = target.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor else {}
            embedded = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            fonts[name] = {
                "subtype": str(target.get("/Subtype")),
                "embedded": embedded,
                "to_unicode": "/ToUnicode" in font,
            }
    return fonts


def facts(path):
    data = open(path, "rb").read()
    reader = pypdf.PdfReader(path)
    root = reader.trailer["/Root"]
    result = {
        "pages": len(reader.pages),
        "encrypted": reader.is_encrypted,
        "has_id": "/ID" in reader.trailer,
        "version": data[:8].decode("ascii", "replace"),
        "info": {k: str(v) for k, v in (reader.metadata or {}).items()},
        "fonts": fonts_of(reader),
        "output_intents": [],
        "embedded_files": [],
        "associated_files": len(root.get("/AF") or []),
        "xmp": None,
        "facturx": None,
    }
    for intent in root.get("/OutputIntents") or []:
        intent = intent.get_object()
        profile = intent.get("/DestOutputProfile")
        result["output_intents"].append(
            {
                "subtype": str(intent.get("/S")),
                "identifier": str(intent.get("/OutputConditionIdentifier")),
                "profile_components": int(profile.get_object()["/N"]) if profile else None,
            }
        )
    names = root.get("/Names")
    if names and "/EmbeddedFiles" in names:
        tree = names["/EmbeddedFiles"].get_object()["/Names"]
        for name, spec in zip(tree[0::2], tree[1::2]):
            spec = spec.get_object()
            stream = spec["/EF"]["/F"].get_object()
            params = stream.get("/Params") or {}
            result["embedded_files"].append(
                {
                    "name": str(name),
                    "uf": str(spec.get("/UF")),
                    "relationship": str(spec.get("/AFRelationship")),
                    "subtype": str(stream.get("/Subtype")),
                    "has_mod_date": "/ModDate" in params,
                    "sha256": hashlib.sha256(stream.get_data()).hexdigest(),
                }
            )
    metadata = root.get("/Metadata")
    if metadata:
        stream = metadata.get_object()
        xmp = etree.fromstring(stream.get_data())
        result["xmp"] = {
            "filtered": "/Filter" in stream,
            "part": text(xmp, ".//pdfaid:part"),
            "conformance": text(xmp, ".//pdfaid:conformance"),
            "title": text(xmp, ".//dc:title/rdf:Alt/rdf:li"),
            "fx_conformance_level": text(xmp, ".//fx:ConformanceLevel"),
            "fx_document_type": text(xmp, ".//fx:DocumentType"),
            "fx_document_file_name": text(xmp, ".//fx:DocumentFileName"),
            "fx_version": text(xmp, ".//fx:Version"),
            "extension_schemas": [s.text for s in xmp.findall(".//pdfaSchema:namespaceURI", NS)],
        }
    try:
        name, xml = facturx.get_facturx_xml_from_pdf(data, check_xsd=True)
        if xml:
            result["facturx"] = {
                "name": name,
                "sha256": hashlib.sha256(xml).hexdigest(),
                "level": facturx.get_level(etree.fromstring(xml)),
            }
    except Exception as error:  # reported, for the test to show
        result["facturx"] = {"error": str(error)}
    return result


if __name__ == "__main__":
    print(json.dumps({path: facts(path) for path in sys.argv[1:]}))
