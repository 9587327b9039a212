// TRM audit report: pages, sorts and filters the report tables, and draws
// lineage diagrams from the layouts svg.rs computed. All data comes from the
// page's <script type="application/json"> blocks and is put into the DOM
// with textContent and setAttribute only, never as markup.
(async function () {
  'use strict';

  // The namespace name of SVG elements: an identifier, never fetched.
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const PAGE_SIZE = 100;

  // Data blocks are JSON, gzipped and base64-encoded (html.rs `pack`):
  // unpacked once, up front, with the browser's own DecompressionStream.
  const unpacked = new Map();
  async function unpackAll() {
    const blocks = document.querySelectorAll('script[type="application/json"][data-encoding="gzip-base64"]');
    for (const block of blocks) {
      const binary = atob(block.textContent.trim());
      const bytes = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
      unpacked.set(block.id, await new Response(stream).text());
    }
  }

  function readJson(id) {
    if (unpacked.has(id)) return JSON.parse(unpacked.get(id));
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    return e;
  }

  function thousands(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }

  // Asset ids may hold any character: links carry them percent-encoded.
  function assetHref(id) {
    return '#asset-' + encodeURIComponent(id);
  }

  // An asset's page on the Tableau server, if the text is a web address:
  // anything else (a javascript: URL in a hostile name's place) links nowhere.
  function pageUrl(text) {
    return typeof text === 'string' && /^https?:\/\/[^\s]+$/i.test(text) ? text : null;
  }

  await unpackAll();

  // --- diagrams --------------------------------------------------------------------

  const D = readJson('trm-diagrams') || { node_w: 0, node_h: 0, layer_w: 0, kinds: [], nodes: [], diagrams: [], default: [] };
  const diagramById = new Map();
  D.diagrams.forEach(function (d, i) {
    if (!diagramById.has(d[0])) diagramById.set(d[0], i);
  });
  const openArea = document.getElementById('diagrams-open');
  let markerSeq = 0;

  // Fits a label into a node box: about 6.6 px per character at 12 px.
  function fit(text, width) {
    const max = Math.max(4, Math.floor((width - 16) / 6.6));
    return text.length > max ? text.slice(0, max - 1) + '…' : text;
  }

  function drawSvg(d) {
    const W = D.node_w, H = D.node_h;
    const flat = d[5], edges = d[6];
    const width = d[3], height = d[4];
    const svg = svgEl('svg', {
      class: 'lineage', width: width, height: height, viewBox: '0 0 ' + width + ' ' + height,
      role: 'img', 'aria-label': 'Lineage of ' + d[2],
    });
    svg.setAttribute('data-diagram-id', d[0]);
    const markerId = 'trm-arrow-' + (++markerSeq);
    const defs = svgEl('defs');
    const marker = svgEl('marker', {
      id: markerId, viewBox: '0 0 8 8', refX: 8, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto',
    });
    marker.appendChild(svgEl('path', { d: 'M0,0 L8,4 L0,8 z', class: 'arrow' }));
    defs.appendChild(marker);
    svg.appendChild(defs);

    const node = function (i) {
      const g = flat[3 * i];
      return { n: D.nodes[g], x: flat[3 * i + 1], y: flat[3 * i + 2] };
    };
    const edgeLayer = svgEl('g', { class: 'edges' });
    // Edges: [from, to, k, y1 … yk]. An edge crossing layers runs straight
    // through the slot the layout kept free in each, with curves between.
    for (let e = 0; e < edges.length; e += 3 + edges[e + 2]) {
      const a = node(edges[e]), b = node(edges[e + 1]), bends = edges.slice(e + 3, e + 3 + edges[e + 2]);
      const dir = b.x >= a.x ? 1 : -1; // -1 only for an edge closing a cycle
      let x = dir > 0 ? a.x + W : a.x, y = a.y + H / 2;
      let d = 'M' + x + ',' + y;
      const curveTo = function (x2, y2) {
        const mid = (x + x2) / 2;
        d += ' C' + mid + ',' + y + ' ' + mid + ',' + y2 + ' ' + x2 + ',' + y2;
        x = x2;
        y = y2;
      };
      bends.forEach(function (by, k) {
        const left = a.x + dir * (k + 1) * D.layer_w;
        curveTo(dir > 0 ? left : left + W, by);
        x = dir > 0 ? left + W : left;
        d += ' L' + x + ',' + y;
      });
      curveTo(dir > 0 ? b.x : b.x + W, b.y + H / 2);
      const path = svgEl('path', {
        class: a.n[3] || b.n[3] ? 'edge flagged' : 'edge',
        d: d,
        'marker-end': 'url(#' + markerId + ')',
      });
      path.setAttribute('data-from', a.n[0]);
      path.setAttribute('data-to', b.n[0]);
      edgeLayer.appendChild(path);
    }
    svg.appendChild(edgeLayer);

    const nodeLayer = svgEl('g', { class: 'nodes' });
    for (let i = 0; i < flat.length / 3; i++) {
      const p = node(i);
      const id = p.n[0], kind = D.kinds[p.n[1]] || '', label = p.n[2], flagged = p.n[3] === 1;
      const g = svgEl('g', { class: 'node', transform: 'translate(' + p.x + ',' + p.y + ')' });
      g.setAttribute('data-id', id);
      g.setAttribute('data-kind', kind);
      if (flagged) g.setAttribute('data-flagged', 'true');
      if (id === d[0]) g.classList.add('root');
      const title = svgEl('title');
      title.textContent = label + ' (' + kind.replace(/_/g, ' ') + (flagged ? ', flagged' : '') + ')\n' + id;
      g.appendChild(title);
      g.appendChild(svgEl('rect', { width: W, height: H, rx: 6, ry: 6 }));
      const text = svgEl('text', { x: 8, y: 15 });
      text.textContent = fit(label, W);
      g.appendChild(text);
      const kindText = svgEl('text', { x: 8, y: 28, class: 'kind' });
      kindText.textContent = kind.replace(/_/g, ' ');
      g.appendChild(kindText);
      if (flagged) {
        const flag = svgEl('text', { x: W - 16, y: 28, class: 'flag' });
        flag.textContent = '!';
        g.appendChild(flag);
      }
      // A node that has a diagram of its own (a published datasource in a
      // workbook's lineage) opens it.
      if (id !== d[0] && diagramById.has(id)) {
        g.classList.add('link');
        g.setAttribute('tabindex', '0');
        g.setAttribute('role', 'link');
        const go = function () {
          showAsset(assetHref(id));
          history.pushState(null, '', assetHref(id));
        };
        g.addEventListener('click', go);
        g.addEventListener('keydown', function (ev) { if (ev.key === 'Enter') go(); });
      }
      nodeLayer.appendChild(g);
    }
    svg.appendChild(nodeLayer);
    return svg;
  }

  // Draws diagram number `i` into the open area (once) and returns its figure.
  function openDiagram(i, atTop) {
    const d = D.diagrams[i];
    const existing = openArea.querySelector('figure[data-index="' + i + '"]');
    if (existing) return existing;
    const fig = el('figure', { class: 'diagram', 'data-index': String(i) });
    fig.id = 'asset-' + d[0];
    fig.setAttribute('data-diagram-id', d[0]);
    const cap = el('figcaption');
    cap.appendChild(el('span', { class: 'kind' }, (D.kinds[d[1]] || '').replace(/_/g, ' ')));
    cap.appendChild(el('span', { class: 'name' }, d[2]));
    cap.appendChild(el('code', { class: 'muted' }, d[0]));
    if (d[7] > 0) cap.appendChild(el('span', { class: 'muted' }, thousands(d[7]) + ' flagged'));
    const close = el('button', { type: 'button', class: 'close', 'aria-label': 'Close diagram' }, 'close');
    close.addEventListener('click', function () { fig.remove(); });
    cap.appendChild(close);
    fig.appendChild(cap);
    const scroll = el('div', { class: 'diagram-scroll' });
    scroll.appendChild(drawSvg(d));
    fig.appendChild(scroll);
    if (atTop) openArea.insertBefore(fig, openArea.firstChild);
    else openArea.appendChild(fig);
    return fig;
  }

  // Opens the diagram an `#asset-<percent-encoded id>` fragment names and
  // shows it; false if the fragment names none.
  function showAsset(fragment) {
    if (!fragment.startsWith('#asset-')) return false;
    let id;
    try {
      id = decodeURIComponent(fragment.slice('#asset-'.length));
    } catch (e) {
      return false;
    }
    const i = diagramById.get(id);
    if (i === undefined) return false;
    const fig = openDiagram(i, true);
    openArea.querySelectorAll('figure.target').forEach(function (f) { f.classList.remove('target'); });
    fig.classList.add('target');
    fig.scrollIntoView({ block: 'start' });
    return true;
  }

  // Asset links open their diagram on click as well as on hashchange: the
  // fragment may already be the current one (the diagram since closed).
  document.addEventListener('click', function (ev) {
    const a = ev.target.closest && ev.target.closest('a[href^="#asset-"]');
    if (a && showAsset(a.getAttribute('href'))) {
      ev.preventDefault();
      history.pushState(null, '', a.getAttribute('href'));
    }
  });

  // The search box lists up to 50 diagrams whose name or id contains the text.
  function setupSearch() {
    const box = document.getElementById('diagram-search');
    const list = document.getElementById('diagram-results');
    const count = document.getElementById('diagram-search-count');
    if (!box) return;
    let lower = null;
    let timer = 0;
    box.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        const q = box.value.trim().toLowerCase();
        list.textContent = '';
        count.textContent = '';
        if (!q) return;
        if (!lower) lower = D.diagrams.map(function (d) { return (d[2] + '\n' + d[0]).toLowerCase(); });
        let found = 0;
        for (let i = 0; i < lower.length; i++) {
          if (lower[i].indexOf(q) < 0) continue;
          found++;
          if (found > 50) continue;
          const d = D.diagrams[i];
          const li = el('li');
          li.appendChild(el('a', { href: assetHref(d[0]) }, d[2]));
          li.appendChild(document.createTextNode(' '));
          li.appendChild(el('span', { class: 'muted' }, (D.kinds[d[1]] || '') + (d[7] ? ', ' + d[7] + ' flagged' : '')));
          list.appendChild(li);
        }
        count.textContent = found > 50 ? 'first 50 of ' + thousands(found) + ' matches' : thousands(found) + ' match' + (found === 1 ? '' : 'es');
      }, 120);
    });
  }

  // --- report tables ---------------------------------------------------------------

  function ReportTable(section) {
    const data = readJson(section.getAttribute('data-source'));
    this.section = section;
    this.n = data.n;
    this.cols = data.cols;
    this.ths = Array.prototype.slice.call(section.querySelectorAll('thead th'));
    this.names = this.ths.map(function (th) { return th.textContent.trim(); });
    this.numeric = this.ths.map(function (th) { return th.getAttribute('data-type') === 'number'; });
    this.roles = this.ths.map(function (th) { return th.getAttribute('data-role') || ''; });
    // The URL column whose cells make this column's cells links, or -1.
    this.links = this.ths.map(function (th) {
      return th.hasAttribute('data-link') ? Number(th.getAttribute('data-link')) : -1;
    });
    // URL columns are not shown: they live on as the names' links.
    const roles = this.roles;
    this.shown = this.ths.map(function (_, c) { return c; }).filter(function (c) { return roles[c] !== 'url'; });
    this.tbody = section.querySelector('tbody');
    this.countEl = section.querySelector('[data-role=count]');
    this.pageEl = section.querySelector('[data-role=page]');
    this.sorted = null; // row numbers in sort order; null = as given
    this.view = null; // the sorted rows passing the filter; null = all
    this.keys = []; // sort keys per column, built on first use
    this.hay = null; // lower-cased row text for the filter, built on first use
    this.sortCol = -1;
    this.sortDir = 1;
    this.query = '';
    this.page = 0;
    const self = this;
    section.querySelector('thead').addEventListener('click', function (ev) {
      const th = ev.target.closest('th');
      if (th) self.sortBy(Number(th.getAttribute('data-col')));
    });
    const filter = section.querySelector('input.filter');
    let timer = 0;
    filter.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () { self.filter(filter.value); }, 120);
    });
    section.querySelector('.pager').addEventListener('click', function (ev) {
      const b = ev.target.closest('button[data-page]');
      if (!b) return;
      const last = self.pages() - 1;
      const to = { first: 0, prev: self.page - 1, next: self.page + 1, last: last }[b.getAttribute('data-page')];
      self.page = Math.max(0, Math.min(last, to));
      self.draw();
    });
    this.draw();
  }

  ReportTable.prototype.value = function (r, c) {
    const col = this.cols[c];
    const v = col.d ? col.d[col.i[r]] : col.v[r];
    return v === undefined ? null : v;
  };

  // Numbers sort as numbers, everything else as lower-cased text; null
  // (and empty text) sorts before any value.
  ReportTable.prototype.key = function (c) {
    if (!this.keys[c]) {
      const n = this.n;
      if (this.numeric[c]) {
        const k = new Float64Array(n);
        for (let r = 0; r < n; r++) {
          const v = this.value(r, c);
          k[r] = typeof v === 'number' ? v : -Infinity;
        }
        this.keys[c] = k;
      } else {
        const k = new Array(n);
        for (let r = 0; r < n; r++) {
          const v = this.value(r, c);
          k[r] = v === null ? '' : String(v).toLowerCase();
        }
        this.keys[c] = k;
      }
    }
    return this.keys[c];
  };

  // First click sorts ascending, the next on the same column descending.
  // Ties keep the order the report gave (the row number breaks them).
  ReportTable.prototype.sortBy = function (c) {
    this.sortDir = this.sortCol === c ? -this.sortDir : 1;
    this.sortCol = c;
    const k = this.key(c), dir = this.sortDir;
    const rows = new Array(this.n);
    for (let r = 0; r < this.n; r++) rows[r] = r;
    rows.sort(function (a, b) {
      const x = k[a], y = k[b];
      return x < y ? -dir : x > y ? dir : a - b;
    });
    this.sorted = rows;
    this.ths.forEach(function (th, i) {
      if (i === c) th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    });
    this.applyFilter();
    this.page = 0;
    this.draw();
  };

  ReportTable.prototype.filter = function (text) {
    this.query = text.trim().toLowerCase();
    this.applyFilter();
    this.page = 0;
    this.draw();
  };

  ReportTable.prototype.applyFilter = function () {
    if (!this.query) {
      this.view = this.sorted;
      return;
    }
    if (!this.hay) {
      const hay = new Array(this.n), width = this.cols.length;
      for (let r = 0; r < this.n; r++) {
        let s = '';
        for (let c = 0; c < width; c++) {
          const v = this.value(r, c);
          if (v !== null) s += String(v) + '\n';
        }
        hay[r] = s.toLowerCase();
      }
      this.hay = hay;
    }
    const q = this.query, hay = this.hay, out = [];
    const order = this.sorted;
    for (let i = 0; i < this.n; i++) {
      const r = order ? order[i] : i;
      if (hay[r].indexOf(q) >= 0) out.push(r);
    }
    this.view = out;
  };

  ReportTable.prototype.size = function () {
    return this.view ? this.view.length : this.n;
  };

  ReportTable.prototype.pages = function () {
    return Math.max(1, Math.ceil(this.size() / PAGE_SIZE));
  };

  ReportTable.prototype.cell = function (r, c) {
    const v = this.value(r, c);
    const td = document.createElement('td');
    if (v === null) {
      td.className = 'null';
    } else if (typeof v === 'number' && this.numeric[c]) {
      // Grouped only in number columns, where the sort key is the number
      // itself; in a text column the text shown is the text sorted.
      td.className = 'num';
      td.textContent = Number.isInteger(v) ? thousands(v) : String(v);
    } else if (typeof v === 'string' && this.links[c] >= 0 && pageUrl(this.value(r, this.links[c]))) {
      td.appendChild(el('a', { href: pageUrl(this.value(r, this.links[c])), target: '_blank', rel: 'noopener noreferrer' }, v));
    } else if (typeof v === 'string' && this.roles[c] === 'id') {
      // Narrow (CSS cuts it short); the whole id on hover and in the filter.
      td.className = 'id';
      td.setAttribute('title', v);
      if (diagramById.has(v)) td.appendChild(el('a', { href: assetHref(v) }, v));
      else td.textContent = v;
    } else {
      td.textContent = String(v);
    }
    return td;
  };

  ReportTable.prototype.draw = function () {
    const size = this.size(), start = this.page * PAGE_SIZE, end = Math.min(size, start + PAGE_SIZE);
    const body = document.createDocumentFragment();
    for (let i = start; i < end; i++) {
      const r = this.view ? this.view[i] : i;
      const tr = document.createElement('tr');
      for (const c of this.shown) tr.appendChild(this.cell(r, c));
      body.appendChild(tr);
    }
    if (size === 0) {
      const tr = document.createElement('tr');
      tr.appendChild(el('td', { colspan: String(Math.max(1, this.shown.length)), class: 'empty' }, this.n ? 'No rows match.' : 'No rows.'));
      body.appendChild(tr);
    }
    this.tbody.textContent = '';
    this.tbody.appendChild(body);
    this.countEl.setAttribute('data-matched', String(size));
    this.countEl.setAttribute('data-total', String(this.n));
    this.countEl.textContent = size === 0
      ? 'no rows' + (this.n ? ' (of ' + thousands(this.n) + ')' : '')
      : 'rows ' + thousands(start + 1) + '–' + thousands(end) + ' of ' + thousands(size) +
        (size !== this.n ? ' (filtered from ' + thousands(this.n) + ')' : '');
    this.pageEl.textContent = 'page ' + thousands(this.page + 1) + ' of ' + thousands(this.pages());
    const pager = this.section.querySelector('.pager');
    pager.querySelector('[data-page=first]').disabled = this.page === 0;
    pager.querySelector('[data-page=prev]').disabled = this.page === 0;
    pager.querySelector('[data-page=next]').disabled = this.page >= this.pages() - 1;
    pager.querySelector('[data-page=last]').disabled = this.page >= this.pages() - 1;
  };

  // --- start -----------------------------------------------------------------------

  const tables = [];
  document.querySelectorAll('section.report[data-source]').forEach(function (s) {
    tables.push(new ReportTable(s));
  });
  D.default.forEach(function (i) { openDiagram(i, false); });
  setupSearch();
  window.addEventListener('hashchange', function () { showAsset(location.hash); });
  showAsset(location.hash);
  // For scripted checks and the console: open a diagram by asset id.
  window.trmReport = {
    tables: tables,
    openDiagram: function (id) {
      const i = diagramById.get(id);
      return i === undefined ? null : openDiagram(i, true);
    },
  };
})();
