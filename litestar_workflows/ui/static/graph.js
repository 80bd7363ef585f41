// Draws an instance's workflow diagram from the diagram source the page holds (the text of the
// REST API's graph endpoint), with the vendored Mermaid. Mermaid styles its drawing with inline
// <style> elements, which the pages' Content-Security-Policy forbids, so the drawing happens in a
// hidden frame of the UI's own (the graph renderer page, whose policy allows inline styles and
// nothing else more) and the page shows the finished SVG as an image.
(function () {
  "use strict";

  function fail(figure, canvas) {
    figure.dataset.rendered = "failed";
    canvas.textContent = "The diagram could not be drawn; its source is below.";
  }

  function draw() {
    var figure = document.querySelector("[data-graph]");
    var source = document.getElementById("graph-source");
    var canvas = document.getElementById("graph-canvas");
    if (!figure || !source || !canvas || !figure.dataset.renderer) {
      return;
    }
    var frame = document.createElement("iframe");
    frame.className = "graph-renderer";
    frame.title = "Diagram renderer (hidden)";
    frame.setAttribute("aria-hidden", "true");
    frame.tabIndex = -1;
    frame.addEventListener("load", async function () {
      try {
        var svg = await frame.contentWindow.renderDiagram(source.textContent);
        var image = new Image();
        image.className = "graph-image";
        image.alt = "Workflow diagram. " + figure.querySelector("figcaption").textContent.replace(/\s+/g, " ").trim();
        image.addEventListener("load", function () {
          figure.dataset.rendered = "true";
        });
        image.src = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
        canvas.replaceChildren(image);
      } catch (error) {
        fail(figure, canvas);
      } finally {
        frame.remove();
      }
    });
    frame.src = figure.dataset.renderer;
    document.body.appendChild(frame);
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
