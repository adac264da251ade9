// LMU Book: set-up for the offline ipywidgets HTML manager (vendor/html-manager/embed-amd.js).
// Loaded after RequireJS and before the manager (see nb_ipywidgets_js in _config.yml).
(function () {
  var here = document.currentScript.src;
  var staticDir = here.substring(0, here.lastIndexOf("/") + 1); // .../_static/
  // The manager loads its fonts relative to its own module URL: point that at _static/vendor.
  require.config({
    paths: { "@jupyter-widgets/html-manager/dist": staticDir + "vendor/html-manager" },
  });
  // The manager typesets labels with the MathJax 2 API (MathJax.Hub.Queue); the book loads
  // MathJax 3 (which has no Hub), so give MathJax 3 a Hub.Queue that forwards to it.
  function installHub() {
    var mj = window.MathJax;
    if (!mj || mj.Hub || !mj.startup) return;
    mj.Hub = {
      Queue: function (command) {
        var element = command && command[2];
        mj.startup.promise
          .then(function () {
            return mj.typesetPromise(element ? [element] : undefined);
          })
          .catch(function (err) {
            console.warn("MathJax could not typeset a widget label", err);
          });
      },
    };
  }
  installHub();
  document.addEventListener("DOMContentLoaded", installHub);
})();
