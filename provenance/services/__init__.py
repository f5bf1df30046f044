"""Provenance services for the rest of BrandForge.

signing: signer_spec, trust_config, sign_generated_image, sign_rendition_bytes; incoming:
read_incoming; verify: verify_file. Modules are imported by name to keep this package free of
import cycles.
"""
