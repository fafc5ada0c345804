"""The ground floor: what every other layer may use. Standard library and NumPy only.

``validate`` (boundary checks with one clear error), ``profiles`` (the one set of execution
profiles), ``seeding``, ``files`` (atomic writes, the project's folders), ``timing``, ``progress``.
"""

