// The result grid's behaviour in the browser (gradio's js_on_load for #sa-results: `element`, `trigger`,
// `watch`): actions go to the server; the product page and the comparison are fetched as HTML (shop/…, no
// queue); the shortlist lives in localStorage (nothing on the server).
const KEY = 'sa-shortlist';
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
const saved = () => { try { const v = JSON.parse(localStorage.getItem(KEY) || '[]'); return Array.isArray(v) ? v : []; } catch (e) { return []; } };
const store = (items) => { localStorage.setItem(KEY, JSON.stringify(items)); paintBar(); };
let overlay = document.getElementById('sa-overlay');
if (!overlay) { overlay = document.createElement('div'); overlay.id = 'sa-overlay'; overlay.hidden = true; document.body.appendChild(overlay); }
let bar = document.getElementById('sa-shortlist-bar');
if (!bar) { bar = document.createElement('button'); bar.id = 'sa-shortlist-bar'; document.body.appendChild(bar); }
const paintBar = () => { const n = saved().length; bar.textContent = `♥ Shortlist (${n})`; bar.hidden = n === 0;
  document.querySelectorAll('[data-shortlist]').forEach((b) => b.classList.toggle('sa-on', saved().some((x) => x.id === fields(b).id))); };
const show = (html) => { overlay.innerHTML = html; overlay.hidden = false; document.body.classList.add('sa-modal'); };
const hide = () => { overlay.hidden = true; overlay.innerHTML = ''; document.body.classList.remove('sa-modal'); };
// a product's fields for the shortlist: from the product page's button, or from the card it sits on
const fields = (b) => { const c = b.closest('.sa-card');
  return c ? {id: c.dataset.id, title: c.querySelector('.sa-title').textContent, brand: c.dataset.brand,
              sale: c.dataset.price, img: c.querySelector('img').getAttribute('src')}
           : {id: b.dataset.id, title: b.dataset.title, brand: b.dataset.brand, sale: b.dataset.sale, img: b.dataset.img}; };
const keep = (b) => { const items = saved(), item = fields(b);
  if (!items.some((x) => x.id === item.id)) items.push(item);
  store(items); };
const openProduct = async (id) => {
  const t0 = performance.now();
  const r = await fetch('shop/product/' + encodeURIComponent(id));
  show(await r.text());
  const img = overlay.querySelector('.sa-page-img img');
  if (img && !img.complete) await new Promise((ok) => { img.onload = ok; img.onerror = ok; });
  (window.saTimings = window.saTimings || []).push(performance.now() - t0);
  paintBar();
  trigger('click', {action: 'open', product: id});
};
const shortlist = () => { const items = saved();
  show('<div class="sa-page sa-list" role="dialog" aria-label="Shortlist"><button class="sa-close" data-close aria-label="Close">✕</button>'
    + '<h2 class="sa-page-title">Your shortlist</h2>'
    + items.map((x, i) => `<label class="sa-li"><input type="checkbox" value="${esc(x.id)}" ${i < 4 ? 'checked' : ''}>`
      + `<img src="${esc(x.img)}" alt=""><span>${esc(x.brand)} · ${esc(x.title)}</span>`
      + `<button class="sa-btn" data-remove="${esc(x.id)}" aria-label="Remove ${esc(x.title)}">✕</button></label>`).join('')
    + '<div class="sa-page-actions"><button class="sa-btn sa-primary" data-compare>Compare</button></div>'
    + '<p class="sa-note">Kept in this browser only. Tick 2 to 4 to compare them side by side.</p></div>'); };
const compare = async () => { const ids = [...overlay.querySelectorAll('.sa-li input:checked')].map((i) => i.value);
  const r = await fetch('shop/compare?ids=' + ids.map(encodeURIComponent).join(','));
  show(await r.text()); };
element.addEventListener('click', (ev) => {
  const o = ev.target.closest('[data-open]'), k = ev.target.closest('[data-shortlist]'), b = ev.target.closest('[data-action]');
  const id = (x) => x.closest('.sa-card').dataset.id;
  if (o) { ev.preventDefault(); openProduct(id(o)); }
  else if (k) { ev.preventDefault(); keep(k); }
  else if (b) { ev.preventDefault(); trigger('click', {action: b.dataset.action, product: id(b)}); }
});
if (!overlay.dataset.wired) {
  overlay.dataset.wired = '1';
  overlay.addEventListener('click', (ev) => {
    const t = ev.target;
    if (t === overlay || t.closest('[data-close]')) { hide(); return; }
    const k = t.closest('[data-shortlist]'), b = t.closest('[data-action]'), r = t.closest('[data-remove]');
    if (k) { keep(k); }
    else if (r) { ev.preventDefault(); store(saved().filter((x) => x.id !== r.dataset.remove)); shortlist(); }
    else if (t.closest('[data-compare]')) { compare(); }
    else if (t.closest('[data-ask]')) { hide(); const box = document.querySelector('#sa-input textarea'); if (box) box.focus(); }
    else if (b) { trigger('click', {action: b.dataset.action, product: b.dataset.id}); hide(); }
  });
  bar.addEventListener('click', shortlist);
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && !overlay.hidden) hide(); });
}
paintBar();
watch('value', () => {
  paintBar();
  if (window.innerWidth <= 700 && element.querySelector('.sa-grid')) element.scrollIntoView({block: 'start'});
});
