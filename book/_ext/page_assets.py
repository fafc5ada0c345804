"""A Sphinx extension for the scripts of every page: MathJax on all of them, each script once.

Chapter titles hold math (``$g = h * f + n$``) and appear in every page's navigation, but
Sphinx loads MathJax only on pages whose body has math: elsewhere the titles would show raw
TeX. The ``always`` assets policy makes Sphinx load it everywhere.

Under Jupyter Book 1.x, sphinx-thebe registers its inline configuration script twice (its
``env-before-read-docs`` handler runs for both read passes), and the second copy raises
"Identifier 'THEBE_JS_URL' has already been declared" in the browser. This drops exact repeats
of a page's scripts; nothing else changes.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        # the same inline script arrives once with filename None and once with ''
        name = getattr(script, "filename", script) or ""
        key = (str(name), tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    scripts[:] = kept


def setup(app):
    app.set_html_assets_policy("always")
    app.connect("html-page-context", _dedupe, priority=900)  # after the handlers that add scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
