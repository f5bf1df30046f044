from dam.admin import assets, collections  # noqa: F401
