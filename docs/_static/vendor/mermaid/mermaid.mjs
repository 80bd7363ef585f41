// sphinxcontrib-mermaid imports Mermaid as an ES module. The ES build is split into ~150 chunk
// files (13 MB); the classic build is one file (mermaid.min.js, 2.7 MB) that sets
// globalThis.mermaid. conf.py loads that file as a classic script on pages with a diagram, which
// runs before any module script, and this module hands the object over.
export default globalThis.mermaid;
