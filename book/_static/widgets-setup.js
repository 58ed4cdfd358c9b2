// Loaded between require.js and the vendored ipywidgets HTML manager (embed-amd.js);
// see book/_ext/offline_assets.py.
(function () {
  var script = document.currentScript.src;
  var vendor = script.slice(0, script.lastIndexOf("/") + 1) + "vendor/";

  // The manager's bundle finds its fonts next to its own module URL. RequireJS would
  // place that URL beside the page; point it at _static/vendor/html-manager instead.
  require.config({
    paths: { "@jupyter-widgets/html-manager/dist": vendor + "html-manager" },
  });

  // The controls typeset their descriptions with MathJax 2's MathJax.Hub.Queue; the
  // book loads MathJax 3. Translate that one call once MathJax has started.
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub || !mj.startup) {
      return;
    }
    mj.Hub = {
      Queue: function (command) {
        var element = command[2];
        mj.startup.promise.then(function () {
          return mj.typesetPromise([element]);
        });
      },
    };
  });
})();
