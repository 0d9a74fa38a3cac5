// The clerks' page: copy buttons, and showing a 認証キー in place. Without this script every
// form still works (a reveal then opens the item's page with its key).
'use strict';

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (e) {
    // Older Edge, or a page not on a secure origin: the selection and execCommand.
    const area = document.createElement('textarea');
    area.value = text;
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

function mark(button, text) {
  let note = button.nextElementSibling;
  if (!note || !note.classList.contains('copied')) {
    note = document.createElement('span');
    note.className = 'copied';
    note.setAttribute('role', 'status');
    button.after(note);
  }
  note.textContent = text;
}

document.addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-copy]');
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const ok = await copyText(source.textContent.trim());
  mark(button, ok ? 'コピーしました' : 'コピーできません。選択してコピーしてください');
});

document.addEventListener('submit', async (event) => {
  const form = event.target;
  if (!form.classList.contains('reveal')) return;
  event.preventDefault();
  const response = await fetch(form.action, {
    method: 'POST',
    body: new URLSearchParams(new FormData(form)),
    headers: { 'Accept': 'application/json' },
    credentials: 'same-origin',
  });
  if (!response.ok) {
    form.submit(); // the server's own page says what went wrong
    return;
  }
  const data = await response.json();
  const slot = document.getElementById(form.dataset.slot);
  slot.textContent = data.key;
  slot.classList.add('shown');
  form.hidden = true;
  const copy = document.getElementById(form.dataset.copybtn);
  if (copy) copy.hidden = false;
});
