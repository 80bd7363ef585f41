// Runs in the UI's hidden graph renderer frame: turns Mermaid source into an SVG string for the page
// that opened the frame (same origin), which shows it as an image.
(function () {
  "use strict";

  window.mermaid.initialize({
    startOnLoad: false,
    securityLevel: "strict",
    theme: "neutral",
    flowchart: { htmlLabels: true },
  });

  window.renderDiagram = async function (text) {
    var result = await window.mermaid.render("workflow-graph", text);
    return result.svg;
  };
})();
