"""System checks: tell an integrator what is misconfigured before anything runs."""

from __future__ import annotations

from django.core.checks import Error, register

from dam.conf import dam_settings


@register()
def check_prewarm_specs(app_configs, **kwargs):
    from dam.renditions import InvalidRenditionSpec
    from dam.services.renditions import canonical_spec

    errors = []
    for spec in dam_settings.PREWARM_SPECS:
        try:
            canonical_spec(spec)
        except InvalidRenditionSpec as exc:
            errors.append(
                Error(f"DAM_PREWARM_SPECS contains an invalid spec {spec!r}: {exc}", id="dam.E001")
            )
    return errors
