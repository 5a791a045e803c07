// Dark or light: the system's choice (prefers-color-scheme) until the header's toggle picks
// one, which is kept in localStorage. data-theme on <html> is what style.css reads.
(function () {
  const KEY = 'energydash-theme';
  const root = document.documentElement;
  const saved = window.localStorage.getItem(KEY);
  if (saved === 'dark' || saved === 'light') root.dataset.theme = saved;
  function current() {
    if (root.dataset.theme) return root.dataset.theme;
    return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }
  function label(button) {
    const dark = current() === 'dark';
    button.setAttribute('aria-pressed', dark ? 'true' : 'false');
    button.title = dark ? 'Switch to the light theme' : 'Switch to the dark theme';
  }
  document.addEventListener('click', function (event) {
    const button = event.target.closest && event.target.closest('#theme-toggle');
    if (!button) return;
    root.dataset.theme = current() === 'dark' ? 'light' : 'dark';
    window.localStorage.setItem(KEY, root.dataset.theme);
    label(button);
  });
  new MutationObserver(function () {
    const button = document.getElementById('theme-toggle');
    if (button && !button.hasAttribute('aria-pressed')) label(button);
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
