"""Small Sphinx extension for LMU Book's HTML (loaded from _config.yml).

sphinx-thebe 0.3.1 registers its inline configuration script once per
``env-before-read-docs`` event, and jupyter-book's build emits that event more
than once, so every page declared ``const THEBE_JS_URL`` twice and the browser
logged a SyntaxError. This extension drops repeated scripts from each page.
"""


def _key(script):
    attributes = getattr(script, "attributes", {}) or {}
    return (
        getattr(script, "filename", str(script)) or "",  # None and "" = inline
        tuple(sorted((k, str(v)) for k, v in attributes.items())),
    )


def dedupe_scripts(app, pagename, templatename, context, doctree):
    """Keep the first of identical ``<script>`` entries of a page."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: later handlers append to the same list


def setup(app):
    app.connect("html-page-context", dedupe_scripts, priority=1000)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
