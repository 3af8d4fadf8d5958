// The landing view: a card and a nav link per demo <section> (title: its h2; blurb: its data-blurb or first
// sentence). A classic script at the end of <body>; the body stays hidden (class prelayout) until the cards and
// nav are in, so the first paint already has them (built after it, they shifted the page: Lighthouse CLS 0.39).
(function buildLanding() {
  const nav = document.getElementById("nav"), cards = document.getElementById("demo-cards");
  for (const sec of document.querySelectorAll("section.demo")) {
    const title = sec.querySelector("h2")?.textContent || sec.id;
    const link = document.createElement("a");
    link.href = `#${sec.id}`;
    link.textContent = sec.dataset.short || title;
    nav.appendChild(link);
    const card = document.createElement("a");
    card.className = "card";
    card.href = `#${sec.id}`;
    const p = sec.querySelector("p");
    const blurb = sec.dataset.blurb || (p ? p.textContent.trim().split(/(?<=\.)\s/)[0] : "");
    card.innerHTML = "<b></b><span></span>";
    card.querySelector("b").textContent = title;
    card.querySelector("span").textContent = blurb;
    cards.appendChild(card);
  }
  document.body.classList.remove("prelayout"); // shown once the cards and nav are in (see style.css)
})();
