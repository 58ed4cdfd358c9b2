// Loaded between require.js and the vendored ipywidgets HTML manager (embed-amd.js);
// see book/_ext/offline_assets.py.
(function () {
  var script = document.currentScript.src;
  var vendor = script.slice(0, script.lastIndexOf("/") + 1) + "vendor/";

  // Each module of the manager's bundle finds its fonts next to its own module URL.
  // RequireJS would place those URLs beside the page; put them in
  // _static/vendor/html-manager, where the fonts are. (The modules are all defined by
  // embed-amd.js itself, so RequireJS never fetches these paths.)
  var here = vendor + "html-manager/";
  var modules = ["base", "base7", "controls", "controls7", "html-manager",
                 "html-manager/dist/libembed-amd"];
  var paths = {};
  modules.forEach(function (name) {
    paths["@jupyter-widgets/" + name] = here + name.split("/").pop();
  });
  require.config({ paths: paths });

  // The controls typeset their descriptions with MathJax 2's MathJax.Hub.Queue; the
  // book loads MathJax 3. Translate that one call once MathJax has started. (Inline
  // math in a description needs \( \) here: the book's MathJax does not take $.)
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub || !mj.startup) {
      return;
    }
    mj.Hub = {
      Queue: function (command) {
        var element = command[2];
        // The page's MathJax config only processes marked elements (myst's classes).
        element.classList.add("mathjax_process");
        mj.startup.promise.then(function () {
          return mj.typesetPromise([element]);
        });
      },
    };
  });
})();
