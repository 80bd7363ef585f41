// Draws an instance's workflow diagram with the vendored Mermaid, from the diagram source the page
// holds (the text of the REST API's graph endpoint). Mermaid's SVG carries its own <style>, which
// the pages' Content-Security-Policy forbids in the document, so the SVG is shown as an image
// (a blob: URL): its styles then apply inside the image only.
(function () {
  "use strict";

  async function draw() {
    var figure = document.querySelector("[data-graph]");
    var source = document.getElementById("graph-source");
    var canvas = document.getElementById("graph-canvas");
    if (!figure || !source || !canvas || !window.mermaid) {
      return;
    }
    window.mermaid.initialize({
      startOnLoad: false,
      securityLevel: "strict",
      theme: "neutral",
      flowchart: { htmlLabels: false },
    });
    try {
      var result = await window.mermaid.render("workflow-graph-svg", source.textContent);
      var image = new Image();
      image.className = "graph-image";
      image.alt = "Workflow diagram. " + figure.querySelector("figcaption").textContent.replace(/\s+/g, " ").trim();
      image.src = URL.createObjectURL(new Blob([result.svg], { type: "image/svg+xml" }));
      canvas.replaceChildren(image);
      figure.dataset.rendered = "true";
    } catch (error) {
      figure.dataset.rendered = "failed";
      canvas.textContent = "The diagram could not be drawn; its source is below.";
    }
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
