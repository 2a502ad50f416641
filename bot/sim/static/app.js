// The phone simulator's page: phones side by side, live from /api/events (server-sent events).
// Plain ES module, no build step, no external resources.

const BASE = new URL("../", import.meta.url); // the mount point, e.g. /sim/
const api = (path) => new URL(`api/${path}`, BASE);

// ------------------------------------------------------------------ interface strings

const STRINGS = {
  en: {
    title: "Rapid Response Bot — simulator",
    intro:
      "Everything here goes through the real bot: it talks to local fake Telegram and Twilio " +
      "servers over HTTP, exactly as it would to the real ones. No account or token needed.",
    skip: "Skip to the phones",
    uiLanguage: "Interface language",
    connecting: "Connecting…",
    live: "Live",
    reconnecting: "Reconnecting…",
    closed: "Disconnected — retrying",
    addTitle: "Add a phone",
    kind: "Kind",
    kindSms: "SMS",
    kindTelegram: "Telegram",
    name: "Name",
    namePlaceholder: "Ana",
    nameHint: "Optional",
    number: "Number",
    numberHint: "Optional: a fictional number is picked",
    zip: "ZIP code",
    zipHint: "Optional: where they live, for the JOIN suggestion",
    language: "Language",
    languageHintSms: "For the suggestions: a text has no language (try ALTA or ESPAÑOL)",
    languageHintTelegram: "Telegram tells the bot the app's language",
    coordinator: "Coordinator",
    add: "Add phone",
    adding: "Adding…",
    phonesTitle: "Phones",
    empty: "No phones yet. Add one above, then text the bot as that person.",
    coordinatorBadge: "Coordinator",
    remove: "Remove",
    removeLabel: "Remove {name}'s phone",
    confirmRemove: "Remove {name}'s phone and its conversation?",
    conversation: "{name}'s conversation with the bot",
    quick: "Quick messages for {name}",
    messageLabel: "Message as {name}",
    placeholderSms: "Text the bot…",
    placeholderTelegram: "Message the bot…",
    send: "Send",
    bot: "Bot",
    said: "{name}",
    tapped: "{name} tapped “{label}”",
    noMessages: "No messages yet. Try a quick message below.",
    segmentsOne: "1 segment",
    segmentsMany: "{n} segments",
    gsm: "GSM-7",
    ucs: "UCS-2",
    forcedBy: "UCS-2 (forced by: {chars})",
    counter: "{chars} characters · {segments} · {encoding}",
    statusFailed: "Not delivered (failed)",
    status: { queued: "queued", accepted: "accepted", sending: "sending", sent: "sent", delivered: "delivered", undelivered: "undelivered" },
    edited: "edited",
    stale: "From an earlier session: these buttons no longer work.",
    document: "Document: {name}",
    download: "Download {name}",
    zone: "ZIP {zip}",
    standing: { opted_out: "opted out", blocked: "blocked the bot" },
    linkButton: "{label} (link)",
    smsTo: "texts {number}",
    telegramTo: "writes to @{username}",
    call: "Call",
    callLabel: "Call the bot's hotline as {name}",
    callTitle: "{name}'s call to the hotline",
    callTranscript: "What {name} hears on the call",
    callStarting: "Calling…",
    callBusy: "The bot is answering…",
    callKeys: "Waiting for keys",
    callKeysN: "Waiting for {n} digits",
    callSpeech: "Listening: say something",
    callConnected: "Connected to a volunteer",
    callOn: "In the call",
    callEnded: "Call ended",
    callDialing: "Dialing…",
    callPlay: "A recording plays",
    callEndedBy: {
      caller: "You hung up.",
      bot: "The bot hung up.",
      error: "The bot's voice webhook failed.",
      unreachable: "The bot could not be reached.",
    },
    keypad: "Keypad",
    keyStar: "Star",
    keyHash: "Pound",
    keysPressed: "Pressed, not sent yet: {keys}",
    keysLabel: "Keys to press at once",
    pressKeys: "Press",
    speechLabel: "What to say",
    speechPlaceholder: "Say something…",
    speak: "Speak",
    silence: "Stay silent",
    hangUp: "Hang up",
    closeCall: "Back to messages",
    notice: {
      unreachable: "The bot could not be reached. Is it running?",
      refused: "The bot's SMS webhook answered HTTP {status}.",
    },
    errors: {
      bad_kind: "Choose SMS or Telegram.",
      bad_role: "Unknown role.",
      coordinator_sms: "Coordinators use Telegram: choose Telegram for a coordinator phone.",
      bad_language: "Choose a language.",
      name_too_long: "The name is too long (at most 40 characters).",
      telegram_number: "A Telegram phone has no number: leave it empty.",
      telegram_zip: "A Telegram phone has no ZIP here: send /zone from it.",
      bad_zip: "A ZIP code is five digits, such as 60629.",
      invalid_number: "That is not a valid phone number. Try +1 312 555 0142.",
      own_number: "That is the bot's own number.",
      duplicate_number: "A phone with that number is already here.",
      numbers_exhausted: "No fictional numbers left: type one.",
      empty: "Type a message first.",
      too_long: "That message is too long.",
      not_found: "That phone or message is gone.",
      no_buttons: "Only Telegram messages have buttons.",
      no_calls: "Only an SMS phone can call here.",
      no_voice: "The simulator does not know the bot's voice URL.",
      call_in_progress: "This phone is already in a call.",
      no_call: "This phone is not in a call.",
      call_ended: "The call has ended.",
      not_waiting: "The call is not waiting for an answer right now.",
      wants_speech: "The bot is listening for words now, not keys: speak below.",
      not_listening: "The bot is not listening for words now.",
      bad_keys: "Keys are 0–9, * and # (at most 32).",
      empty_speech: "Type what to say first.",
      speech_too_long: "That is too long to say at once.",
      network: "The simulator did not answer. Is it running?",
      generic: "Something went wrong (HTTP {status}).",
    },
  },
  es: {
    title: "Rapid Response Bot — simulador",
    intro:
      "Todo pasa por el bot de verdad: habla por HTTP con servidores locales que imitan a " +
      "Telegram y Twilio, igual que con los reales. No hace falta cuenta ni token.",
    skip: "Ir a los teléfonos",
    uiLanguage: "Idioma de la interfaz",
    connecting: "Conectando…",
    live: "En vivo",
    reconnecting: "Reconectando…",
    closed: "Desconectado — reintentando",
    addTitle: "Añadir un teléfono",
    kind: "Tipo",
    kindSms: "SMS",
    kindTelegram: "Telegram",
    name: "Nombre",
    namePlaceholder: "Ana",
    nameHint: "Opcional",
    number: "Número",
    numberHint: "Opcional: se elige uno ficticio",
    zip: "Código postal",
    zipHint: "Opcional: donde vive, para la sugerencia ALTA",
    language: "Idioma",
    languageHintSms: "Para las sugerencias: un SMS no lleva idioma (pruebe ALTA o ESPAÑOL)",
    languageHintTelegram: "Telegram le dice al bot el idioma de la app",
    coordinator: "Coordinador(a)",
    add: "Añadir teléfono",
    adding: "Añadiendo…",
    phonesTitle: "Teléfonos",
    empty: "Todavía no hay teléfonos. Añada uno arriba y escríbale al bot como esa persona.",
    coordinatorBadge: "Coordinador(a)",
    remove: "Quitar",
    removeLabel: "Quitar el teléfono de {name}",
    confirmRemove: "¿Quitar el teléfono de {name} y su conversación?",
    conversation: "Conversación de {name} con el bot",
    quick: "Mensajes rápidos para {name}",
    messageLabel: "Mensaje como {name}",
    placeholderSms: "Escríbale al bot…",
    placeholderTelegram: "Escríbale al bot…",
    send: "Enviar",
    bot: "Bot",
    said: "{name}",
    tapped: "{name} tocó «{label}»",
    noMessages: "Todavía no hay mensajes. Pruebe un mensaje rápido abajo.",
    segmentsOne: "1 segmento",
    segmentsMany: "{n} segmentos",
    gsm: "GSM-7",
    ucs: "UCS-2",
    forcedBy: "UCS-2 (por: {chars})",
    counter: "{chars} caracteres · {segments} · {encoding}",
    statusFailed: "No entregado (falló)",
    status: { queued: "en cola", accepted: "aceptado", sending: "enviando", sent: "enviado", delivered: "entregado", undelivered: "no entregado" },
    edited: "editado",
    stale: "De una sesión anterior: estos botones ya no funcionan.",
    document: "Documento: {name}",
    download: "Descargar {name}",
    zone: "CP {zip}",
    standing: { opted_out: "dado de baja", blocked: "bloqueó al bot" },
    linkButton: "{label} (enlace)",
    smsTo: "escribe al {number}",
    telegramTo: "escribe a @{username}",
    call: "Llamar",
    callLabel: "Llamar a la línea del bot como {name}",
    callTitle: "Llamada de {name} a la línea",
    callTranscript: "Lo que {name} oye en la llamada",
    callStarting: "Llamando…",
    callBusy: "El bot está respondiendo…",
    callKeys: "Esperando teclas",
    callKeysN: "Esperando {n} dígitos",
    callSpeech: "Escuchando: diga algo",
    callConnected: "Conectado con un voluntario",
    callOn: "En la llamada",
    callEnded: "Llamada terminada",
    callDialing: "Marcando…",
    callPlay: "Suena una grabación",
    callEndedBy: {
      caller: "Usted colgó.",
      bot: "El bot colgó.",
      error: "El webhook de voz del bot falló.",
      unreachable: "No se pudo contactar con el bot.",
    },
    keypad: "Teclado",
    keyStar: "Asterisco",
    keyHash: "Numeral",
    keysPressed: "Oprimidas, sin enviar todavía: {keys}",
    keysLabel: "Teclas para oprimir de una vez",
    pressKeys: "Oprimir",
    speechLabel: "Qué decir",
    speechPlaceholder: "Diga algo…",
    speak: "Hablar",
    silence: "Quedarse en silencio",
    hangUp: "Colgar",
    closeCall: "Volver a los mensajes",
    notice: {
      unreachable: "No se pudo contactar con el bot. ¿Está en marcha?",
      refused: "El webhook de SMS del bot respondió HTTP {status}.",
    },
    errors: {
      bad_kind: "Elija SMS o Telegram.",
      bad_role: "Rol desconocido.",
      coordinator_sms: "Los coordinadores usan Telegram: elija Telegram para un teléfono de coordinación.",
      bad_language: "Elija un idioma.",
      name_too_long: "El nombre es demasiado largo (40 caracteres como máximo).",
      telegram_number: "Un teléfono de Telegram no lleva número: déjelo vacío.",
      telegram_zip: "Un teléfono de Telegram no lleva código postal aquí: envíe /zone desde él.",
      bad_zip: "Un código postal tiene cinco dígitos, como 60629.",
      invalid_number: "Ese número de teléfono no es válido. Pruebe +1 312 555 0142.",
      own_number: "Ese es el número del propio bot.",
      duplicate_number: "Ya hay un teléfono con ese número.",
      numbers_exhausted: "No quedan números ficticios: escriba uno.",
      empty: "Escriba un mensaje primero.",
      too_long: "Ese mensaje es demasiado largo.",
      not_found: "Ese teléfono o mensaje ya no existe.",
      no_buttons: "Solo los mensajes de Telegram tienen botones.",
      no_calls: "Aquí solo un teléfono SMS puede llamar.",
      no_voice: "El simulador no conoce la URL de voz del bot.",
      call_in_progress: "Este teléfono ya está en una llamada.",
      no_call: "Este teléfono no está en una llamada.",
      call_ended: "La llamada terminó.",
      not_waiting: "La llamada no espera una respuesta ahora.",
      wants_speech: "El bot escucha palabras ahora, no teclas: hable abajo.",
      not_listening: "El bot no escucha palabras ahora.",
      bad_keys: "Las teclas son 0–9, * y # (32 como máximo).",
      empty_speech: "Escriba primero qué decir.",
      speech_too_long: "Es demasiado largo para decirlo de una vez.",
      network: "El simulador no respondió. ¿Está en marcha?",
      generic: "Algo salió mal (HTTP {status}).",
    },
  },
};

const LANG_KEY = "rrbot-sim-lang";
let uiLang = initialLanguage();

function initialLanguage() {
  let stored = null;
  try {
    stored = localStorage.getItem(LANG_KEY);
  } catch {
    // Storage can be off (private windows); the browser's language then decides.
  }
  if (stored && stored in STRINGS) return stored;
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language || "en"];
  for (const tag of preferred) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (base in STRINGS) return base;
  }
  return "en";
}

function lookup(key) {
  let value = STRINGS[uiLang];
  let fallback = STRINGS.en;
  for (const part of key.split(".")) {
    value = value?.[part];
    fallback = fallback?.[part];
  }
  return value ?? fallback ?? key;
}

function t(key, vars = {}) {
  return String(lookup(key)).replace(/\{(\w+)\}/g, (match, name) =>
    name in vars ? String(vars[name]) : match,
  );
}

// ------------------------------------------------------------------ SMS segments (as the server counts)

const GSM7_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
const GSM7_EXTENSION = new Set("^{}\\[~]|€\f");

function countSegments(text) {
  const chars = Array.from(text);
  const nonGsm = [...new Set(chars.filter((c) => !GSM7_BASIC.has(c) && !GSM7_EXTENSION.has(c)))];
  let sizes, single, multi, encoding;
  if (nonGsm.length === 0) {
    sizes = chars.map((c) => (GSM7_EXTENSION.has(c) ? 2 : 1));
    [single, multi, encoding] = [160, 153, "GSM-7"];
  } else {
    sizes = chars.map((c) => (c.codePointAt(0) > 0xffff ? 2 : 1));
    [single, multi, encoding] = [70, 67, "UCS-2"];
  }
  const units = sizes.reduce((a, b) => a + b, 0);
  if (units <= single) return { encoding, units, segments: units ? 1 : 0, nonGsm };
  let segments = 1;
  let used = 0;
  for (const size of sizes) {
    if (used + size > multi) {
      segments += 1;
      used = 0;
    }
    used += size;
  }
  return { encoding, units, segments, nonGsm };
}

function showChar(c) {
  // Invisible or look-alike characters (no-break space, tabs) are named by code point.
  if (/^[\s\p{C}]$/u.test(c)) return `U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
  return c;
}

// The characters that forced UCS-2, in the order they were found: each in an isolate (FSI … PDI),
// so that a list of Arabic letters is not read as one right-to-left run that reverses it.
function showChars(chars) {
  return chars.map((c) => `\u2068${showChar(c)}\u2069`).join(", ");
}

function segmentsLabel(segments, encoding, nonGsm) {
  const count = segments === 1 ? t("segmentsOne") : t("segmentsMany", { n: segments });
  if (encoding === "UCS-2") {
    const chars = showChars(nonGsm || []);
    return `${count} · ${chars ? t("forcedBy", { chars }) : t("ucs")}`;
  }
  return `${count} · ${t("gsm")}`;
}

// ------------------------------------------------------------------ state

const state = {
  bot: { sms_number: "", telegram_username: "" },
  // The bot's languages, as the server names them: code -> { name (its own), direction }.
  languages: new Map(),
  phones: new Map(), // id -> phone
  transcripts: new Map(), // id -> entries
  calls: new Map(), // phone id -> its call, as the server shows it (only SMS phones call)
};
const cards = new Map(); // phone id -> card elements
const drafts = new Map(); // phone id -> unsent text
let loading = null; // a pending /api/state load; events wait for it
let buffered = [];

const $ = (selector, root = document) => root.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ------------------------------------------------------------------ the bot's languages

function languageName(code) {
  return state.languages.get(code)?.name || code;
}

function isRtl(code) {
  return state.languages.get(code)?.direction === "rtl";
}

// The interface's own direction: what it says around a message (times, segments, notes).
function uiDir() {
  return document.documentElement.dir || "ltr";
}

// The phone set-up offers every language the bot speaks, each by its own name.
function renderLanguageOptions() {
  const select = $("#phone-language");
  const options = [...state.languages].map(([code, { name, direction }]) => [code, name, direction]);
  if (!options.length || select.dataset.languages === JSON.stringify(options)) return;
  const chosen = select.value;
  select.dataset.languages = JSON.stringify(options);
  select.replaceChildren(
    ...options.map(([code, name, direction]) => el("option", { value: code, lang: code, dir: direction }, name)),
  );
  select.value = state.languages.has(chosen) ? chosen : state.languages.has(uiLang) ? uiLang : options[0][0];
}

function formatNumber(e164) {
  const m = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(e164);
  return m ? `+1 (${m[1]}) ${m[2]}-${m[3]}` : e164;
}

function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(uiLang, { hour: "2-digit", minute: "2-digit" }).format(date);
}

async function request(method, path, body) {
  let response;
  try {
    response = await fetch(api(path), {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, code: "network", error: t("errors.network") };
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const code = data?.code && STRINGS.en.errors[data.code] ? data.code : null;
    const error = code ? t(`errors.${code}`) : data?.error || t("errors.generic", { status: response.status });
    return { ok: false, status: response.status, code, error };
  }
  return { ok: true, status: response.status, data };
}

// An error line keeps its code, so that switching the interface language translates it too.
function showError(node, result) {
  if (!result || result.ok) {
    node.textContent = "";
    delete node.dataset.errorCode;
    return;
  }
  node.textContent = result.error;
  if (result.code) node.dataset.errorCode = result.code;
  else delete node.dataset.errorCode;
}

// ------------------------------------------------------------------ static labels and language

function applyLanguage() {
  document.documentElement.lang = uiLang;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]"))
    node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of document.querySelectorAll("[data-i18n-aria-label]"))
    node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
  for (const button of document.querySelectorAll(".ui-lang button"))
    button.setAttribute("aria-pressed", String(button.dataset.lang === uiLang));
  setConnection(connectionState);
  for (const node of document.querySelectorAll("[data-error-code]"))
    node.textContent = t(`errors.${node.dataset.errorCode}`);
  for (const phone of state.phones.values()) renderCard(phone, { rebuild: true });
}

function setLanguage(lang) {
  if (!(lang in STRINGS) || lang === uiLang) return;
  uiLang = lang;
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // Not remembered then; still switched.
  }
  applyLanguage();
}

let connectionState = "connecting";
function setConnection(next) {
  connectionState = next;
  const box = $("#connection");
  box.dataset.state = next;
  $("#connection-text").textContent = t(next);
}

// ------------------------------------------------------------------ phone cards

function renderCard(phone, { rebuild = false } = {}) {
  const existing = cards.get(phone.id);
  if (existing && !rebuild) {
    updateHeader(existing, phone);
    return existing;
  }
  const focus = rememberFocus(existing?.root);
  const card = buildCard(phone);
  if (existing) existing.root.replaceWith(card.root);
  else $("#phones").append(card.root);
  cards.set(phone.id, card);
  renderLog(phone.id);
  renderCall(phone.id);
  restoreFocus(card, focus);
  updateEmpty();
  return card;
}

function buildCard(phone) {
  const titleId = `phone-${phone.id}-title`;
  const inputId = `phone-${phone.id}-input`;
  const counterId = `phone-${phone.id}-counter`;
  const root = el("article", {
    class: `phone phone-${phone.kind}`,
    "data-testid": "phone",
    "data-phone-id": phone.id,
    "data-kind": phone.kind,
    "data-role": phone.role,
    "aria-labelledby": titleId,
  });
  const name = el("span", { class: "phone-name", dir: "auto" });
  const badge = el("span", { class: "badge coordinator-badge", "data-testid": "coordinator-badge" });
  const title = el("h3", { id: titleId, class: "phone-title" }, name, badge);
  const channel = el("span", { class: `channel channel-${phone.kind}` });
  const address = el("span", { class: "address", "data-testid": "phone-address" });
  const language = el("span", { class: "phone-language", "data-testid": "phone-language" });
  const zone = el("span", { class: "phone-zone", "data-testid": "phone-zone" });
  const standing = el("span", { class: "phone-standing", "data-testid": "phone-standing" });
  // A no-break space before each dot: a wrapped line starts with the next fact, not with "·".
  const sub = el("p", { class: "phone-sub" }, channel, "\u00a0· ", address, "\u00a0· ", language, zone, standing);
  const remove = el("button", {
    type: "button",
    class: "remove",
    "data-testid": "remove-phone",
    onclick: () => removePhone(phone.id),
  });
  // An SMS phone can also call the bot's hotline: the call takes the place of the messages.
  const callButton = phone.kind === "sms"
    ? el("button", { type: "button", class: "call-button", "data-testid": "call-button", onclick: () => startCall(phone.id) })
    : null;
  const head = el("header", { class: "phone-head" }, el("div", { class: "phone-id" }, title, sub),
    el("div", { class: "phone-actions" }, callButton, remove));
  const call = phone.kind === "sms" ? buildCallPanel(phone) : null;

  const log = el("div", {
    class: "log",
    role: "log",
    "aria-live": "polite",
    tabindex: "0",
    "data-testid": "conversation",
  });

  const chips = el("div", { class: "chips", role: "group", "data-testid": "chips" });

  const input = el("textarea", {
    id: inputId,
    class: "composer",
    rows: "2",
    "data-testid": "composer",
    autocomplete: "off",
    maxlength: phone.kind === "sms" ? "1600" : "4096",
    "aria-describedby": phone.kind === "sms" ? counterId : null,
    // Each message takes the direction of its first strong letter: Arabic right to left.
    dir: "auto",
  });
  input.value = drafts.get(phone.id) || "";
  const label = el("label", { for: inputId, class: "visually-hidden" });
  const sendButton = el("button", { type: "submit", class: "send primary", "data-testid": "send" });
  const counter = phone.kind === "sms" ? el("p", { id: counterId, class: "counter", "data-testid": "composer-counter" }) : null;
  const error = el("p", { class: "card-error", role: "alert" });
  const form = el(
    "form",
    { class: "composer-form", novalidate: true },
    label,
    el("div", { class: "composer-row" }, input, sendButton),
    counter,
    error,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sendText(phone.id, input.value, { fromComposer: true });
  });
  input.addEventListener("keydown", (event) => {
    // Enter sends, Shift+Enter starts a new line; IME composition keeps its Enter.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    drafts.set(phone.id, input.value);
    showError(error, null);
    updateCounter(card);
  });

  root.append(head, ...(call ? [call.root] : []), log, chips, form);
  const card = { root, name, badge, channel, address, language, zone, standing, remove, callButton, call, log, chips, input, label, sendButton, counter, error };
  updateHeader(card, phone);
  updateCounter(card);
  return card;
}

function updateHeader(card, phone) {
  card.name.textContent = phone.name;
  card.badge.textContent = t("coordinatorBadge");
  card.badge.hidden = phone.role !== "coordinator";
  card.channel.textContent = phone.kind === "sms" ? t("kindSms") : t("kindTelegram");
  card.address.textContent = phone.kind === "sms" ? formatNumber(phone.address) : `chat ${phone.address}`;
  // What the bot stores about the person, once it has them; until then, what the phone was added with.
  const known = phone.standing;
  const lang = known?.language || phone.language;
  card.language.textContent = languageName(lang);
  card.language.lang = lang;
  card.language.dir = isRtl(lang) ? "rtl" : "ltr";
  // A phone set to a right-to-left language shows its conversation as such a phone does.
  if (isRtl(lang)) card.log.dir = "rtl";
  else card.log.removeAttribute("dir");
  card.zone.textContent = known?.zone ? `\u00a0· ${t("zone", { zip: known.zone })}` : "";
  const status = known && known.status !== "active" ? t(`standing.${known.status}`) : "";
  card.standing.textContent = status ? `\u00a0· ${status.startsWith("standing.") ? known.status : status}` : "";
  card.standing.dataset.status = known?.status || "";
  renderChips(card, phone);
  if (card.callButton) {
    card.callButton.textContent = t("call");
    card.callButton.setAttribute("aria-label", t("callLabel", { name: phone.name }));
    card.call.root.setAttribute("aria-label", t("callTitle", { name: phone.name }));
    card.call.log.setAttribute("aria-label", t("callTranscript", { name: phone.name }));
  }
  card.remove.textContent = t("remove");
  card.remove.setAttribute("aria-label", t("removeLabel", { name: phone.name }));
  card.log.setAttribute("aria-label", t("conversation", { name: phone.name }));
  card.chips.setAttribute("aria-label", t("quick", { name: phone.name }));
  card.label.textContent = t("messageLabel", { name: phone.name });
  card.input.placeholder = phone.kind === "sms" ? t("placeholderSms") : t("placeholderTelegram");
  card.sendButton.textContent = t("send");
  card.channel.title = phone.kind === "sms" ? t("smsTo", { number: formatNumber(state.bot.sms_number) }) : t("telegramTo", { username: state.bot.telegram_username });
}

// The server says which messages fit the phone (its commands, or keywords in its language and
// zone); the row is rebuilt only when they change, so a focused chip keeps its focus.
function renderChips(card, phone) {
  const texts = phone.chips || [];
  if (card.chips.dataset.texts === JSON.stringify(texts)) return;
  const focused = [...card.chips.children].indexOf(document.activeElement);
  card.chips.dataset.texts = JSON.stringify(texts);
  card.chips.replaceChildren(
    ...texts.map((text) =>
      el("button", { type: "button", class: "chip", "data-testid": "chip", onclick: () => sendText(phone.id, text) }, text),
    ),
  );
  // A tapped chip that changed the language leaves focus where it was: on the same place in the row.
  if (focused >= 0) (card.chips.children[Math.min(focused, texts.length - 1)] || card.input).focus();
}

function updateCounter(card) {
  if (!card.counter) return;
  const text = card.input.value;
  const count = countSegments(text);
  const encoding = count.encoding === "UCS-2" && count.nonGsm.length
    ? t("forcedBy", { chars: showChars(count.nonGsm) })
    : count.encoding === "UCS-2" ? t("ucs") : t("gsm");
  const segments = count.segments === 1 ? t("segmentsOne") : t("segmentsMany", { n: count.segments });
  card.counter.textContent = t("counter", { chars: Array.from(text).length, segments, encoding });
  card.counter.classList.toggle("ucs", count.encoding === "UCS-2");
}

function updateEmpty() {
  $("#empty").hidden = state.phones.size > 0;
}

function removeCard(phoneId) {
  const card = cards.get(phoneId);
  if (!card) return;
  const hadFocus = card.root.contains(document.activeElement);
  const next = card.root.nextElementSibling || card.root.previousElementSibling;
  card.root.remove();
  cards.delete(phoneId);
  drafts.delete(phoneId);
  if (hadFocus) {
    const target = next ? $('[data-testid="composer"]', next) : $("#phones-title");
    target?.focus();
  }
  updateEmpty();
}

// ------------------------------------------------------------------ conversation

function renderLog(phoneId) {
  const card = cards.get(phoneId);
  if (!card) return;
  const focus = rememberFocus(card.log);
  const entries = state.transcripts.get(phoneId) || [];
  card.log.replaceChildren(...entries.map((entry) => renderEntry(entry)));
  if (!entries.length) card.log.append(el("p", { class: "log-empty", dir: uiDir() }, t("noMessages")));
  restoreFocus(card, focus, card.log);
  scrollToEnd(card.log);
}

function renderEntry(entry) {
  const phone = state.phones.get(entry.phone_id);
  const name = phone ? phone.name : "";
  if (entry.kind === "press") {
    return el("p", { class: "note press-note", "data-testid": "press-note", "data-entry-id": entry.id, dir: uiDir() },
      t("tapped", { name, label: entry.text }), " ",
      el("time", { datetime: entry.at }, formatTime(entry.at)));
  }
  const bubble = el("div", {
    class: `bubble bubble-${entry.direction}${entry.status === "failed" ? " bubble-failed" : ""}`,
    "data-testid": "bubble",
    "data-direction": entry.direction,
    "data-entry-id": entry.id,
    "data-message-id": entry.message_id ?? null,
  });
  bubble.append(el("span", { class: "visually-hidden" }, `${entry.direction === "in" ? t("said", { name }) : t("bot")}: `));
  if (entry.document_url) {
    const href = new URL(entry.document_url, BASE).href;
    // An image the bot uploaded (an alert's delivery chart) shows as one, the link under it.
    if (/\.(png|jpe?g)$/i.test(entry.document || "")) {
      bubble.append(el("img", { src: href, alt: entry.document, class: "photo", "data-testid": "photo" }));
    }
    bubble.append(el("p", { class: "document", dir: uiDir() },
      el("a", { href, download: entry.document, "data-testid": "document-link" },
        t("download", { name: entry.document }))));
  } else if (entry.document) bubble.append(el("p", { class: "document", dir: uiDir() }, t("document", { name: entry.document })));
  // The text keeps the isolates the bot wraps Latin runs in; its first strong letter sets its direction.
  if (entry.text) bubble.append(el("p", { class: "text", "data-testid": "bubble-text", dir: "auto" }, entry.text));
  if (entry.buttons?.length) bubble.append(renderKeyboard(entry));
  const meta = el("p", { class: "meta", dir: uiDir() }, el("time", { datetime: entry.at }, formatTime(entry.at)));
  if (entry.segments) {
    meta.append(" · ", el("span", { "data-testid": "segments", class: entry.encoding === "UCS-2" ? "ucs" : null }, segmentsLabel(entry.segments, entry.encoding, entry.non_gsm)));
  }
  if (entry.direction === "out" && entry.status) {
    const failed = entry.status === "failed";
    meta.append(" · ", el("span", { class: `status${failed ? " status-failed" : ""}`, "data-testid": "status", "data-status": entry.status },
      failed ? t("statusFailed") : t(`status.${entry.status}`).startsWith("status.") ? entry.status : t(`status.${entry.status}`)));
  }
  if (entry.edited) meta.append(" · ", t("edited"));
  bubble.append(meta);
  return bubble;
}

function renderKeyboard(entry) {
  const stale = entry.message_id === null || entry.message_id === undefined;
  const keyboard = el("div", { class: "inline-keyboard", role: "group", "aria-label": entry.text.slice(0, 60) });
  for (const row of entry.buttons) {
    const line = el("div", { class: "kb-row" });
    for (const button of row) {
      if (button.url) {
        line.append(el("span", { class: "inline-button link-button", "data-testid": "inline-button", title: button.url, dir: "auto" }, t("linkButton", { label: button.text })));
        continue;
      }
      line.append(el("button", {
        type: "button",
        class: "inline-button",
        "data-testid": "inline-button",
        "data-data": button.data,
        dir: "auto",
        disabled: stale,
        title: stale ? t("stale") : null,
        onclick: (event) => press(entry.phone_id, entry.message_id, button.data, event.currentTarget),
      }, button.text));
    }
    keyboard.append(line);
  }
  return keyboard;
}

function scrollToEnd(log) {
  log.scrollTop = log.scrollHeight;
}

function nearEnd(log) {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
}

function upsertEntry(entry) {
  const list = state.transcripts.get(entry.phone_id);
  if (!list || !state.phones.has(entry.phone_id)) return;
  const index = list.findIndex((e) => e.id === entry.id);
  const card = cards.get(entry.phone_id);
  if (index >= 0) {
    list[index] = entry;
    const old = card?.log.querySelector(`[data-entry-id="${CSS.escape(entry.id)}"]`);
    if (old) {
      const focus = rememberFocus(old);
      const fresh = renderEntry(entry);
      old.replaceWith(fresh);
      if (focus) restoreFocus(card, focus, fresh);
    }
    return;
  }
  list.push(entry);
  if (list.length > 200) list.splice(0, list.length - 200);
  if (!card) return;
  const stick = nearEnd(card.log) || entry.direction === "in";
  card.log.querySelector(".log-empty")?.remove();
  const node = renderEntry(entry);
  card.log.append(node);
  while (card.log.children.length > 200) card.log.firstElementChild.remove();
  if (!stick) return;
  // A reply taller than the screen is shown from its start, as a phone does.
  if (entry.direction === "out" && node.offsetHeight > card.log.clientHeight) {
    card.log.scrollTop = node.offsetTop - 8;
  } else {
    scrollToEnd(card.log);
  }
}

function showNotice(notice) {
  const card = cards.get(notice.phone_id);
  if (!card) return;
  const text = t(`notice.${notice.code}`, { status: notice.status });
  card.log.append(el("p", { class: "note notice", "data-testid": "notice", dir: uiDir() }, text));
  scrollToEnd(card.log);
}

// Focus survives re-rendering: the same control (by test id and data) in the new element.
function rememberFocus(container) {
  const active = document.activeElement;
  if (!container || !active || !container.contains(active)) return null;
  return {
    testid: active.dataset?.testid,
    data: active.dataset?.data ?? active.dataset?.key,
    isContainer: active === container,
  };
}

function restoreFocus(card, focus, within = card?.root) {
  if (!focus || !card) return;
  let target = null;
  if (focus.isContainer) target = within;
  else if (focus.testid === "inline-button") {
    target = [...within.querySelectorAll('[data-testid="inline-button"]')].find((b) => b.dataset.data === focus.data && !b.disabled);
  } else if (focus.testid === "key") {
    target = within.querySelector(`[data-testid="key"][data-key="${CSS.escape(focus.data)}"]`);
  } else if (focus.testid) target = within.querySelector(`[data-testid="${focus.testid}"]`);
  if (target?.disabled) target = null;
  // In a call the messages are out of sight: its transcript takes the focus instead.
  (target || (card.call && !card.call.root.hidden ? card.call.log : card.input)).focus();
}

// ------------------------------------------------------------------ calls

const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

// The in-call screen of an SMS phone: what the caller hears, as text, and what they can do.
function buildCallPanel(phone) {
  const id = `phone-${phone.id}-call`;
  const root = el("section", { class: "call", "data-testid": "call-panel", hidden: true });
  const status = el("p", { class: "call-status", role: "status", "data-testid": "call-status" });
  const log = el("div", { class: "call-log", role: "log", "aria-live": "polite", tabindex: "0", "data-testid": "call-transcript" });
  const pending = el("p", { class: "call-pending", "data-testid": "call-pending", hidden: true });
  const keys = KEYS.map((key) => el("button", {
    type: "button",
    class: "key",
    "data-testid": "key",
    "data-key": key,
    onclick: () => pressKeys(phone.id, key),
  }, key));
  const keypad = el("div", { class: "keypad", role: "group", "data-testid": "keypad" }, keys);
  // Typing a key while the keypad has the focus presses it, as on a phone's own keypad.
  keypad.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || !KEYS.includes(event.key)) return;
    event.preventDefault();
    const button = keys[KEYS.indexOf(event.key)];
    if (!button.disabled) {
      button.focus();
      pressKeys(phone.id, event.key);
    }
  });

  const keysInput = el("input", {
    id: `${id}-keys`,
    class: "call-keys",
    "data-testid": "call-keys",
    inputmode: "numeric",
    autocomplete: "off",
    maxlength: "32",
    pattern: "[0-9*#]*",
    dir: "ltr",
  });
  const keysLabel = el("label", { for: keysInput.id, class: "visually-hidden" });
  const keysButton = el("button", { type: "submit", "data-testid": "call-keys-send" });
  const keysForm = el("form", { class: "call-row", novalidate: true }, keysLabel, keysInput, keysButton);
  keysForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const keys = keysInput.value.replace(/\s+/g, "");
    if (!keys) return keysInput.focus();
    pressKeys(phone.id, keys, { send: true, from: keysInput });
  });

  const speech = el("input", { id: `${id}-speech`, class: "call-speech", "data-testid": "call-speech", autocomplete: "off", maxlength: "1000", dir: "auto" });
  const speechLabel = el("label", { for: speech.id, class: "visually-hidden" });
  const speakButton = el("button", { type: "submit", class: "primary", "data-testid": "call-speak" });
  const speechForm = el("form", { class: "call-row", novalidate: true }, speechLabel, speech, speakButton);
  speechForm.addEventListener("submit", (event) => {
    event.preventDefault();
    speak(phone.id, speech.value);
  });

  const silence = el("button", { type: "button", "data-testid": "call-silence", onclick: () => callAction(phone.id, "silence") });
  const hangUp = el("button", { type: "button", class: "hang-up", "data-testid": "call-hang-up", onclick: () => callAction(phone.id, "hang-up") });
  const close = el("button", { type: "button", "data-testid": "call-close", onclick: () => closeCall(phone.id) });
  const actions = el("div", { class: "call-row call-actions" }, silence, hangUp, close);
  const error = el("p", { class: "card-error", role: "alert", "data-testid": "call-error" });
  root.append(status, log, pending, keypad, keysForm, speechForm, actions, error);
  return { root, status, log, pending, keypad, keys, keysForm, keysInput, keysLabel, keysButton, speechForm, speech, speechLabel, speakButton, silence, hangUp, close, error };
}

function setCall(phoneId, call) {
  if (!state.phones.has(phoneId)) return;
  const known = state.calls.get(phoneId);
  if (!call) state.calls.delete(phoneId);
  // An answer and an event can cross: the newest view of the same call wins.
  else if (!known || known.id !== call.id || known.version <= call.version) state.calls.set(phoneId, call);
  renderCall(phoneId);
}

function renderCall(phoneId) {
  const card = cards.get(phoneId);
  if (!card?.call) return;
  const panel = card.call;
  const call = state.calls.get(phoneId);
  const hadFocus = panel.root.contains(document.activeElement);
  card.root.classList.toggle("in-call", Boolean(call));
  panel.root.hidden = !call;
  card.callButton.disabled = Boolean(call && !call.ended);
  if (!call) {
    panel.log.replaceChildren();
    delete panel.log.dataset.shown;
    if (hadFocus) card.callButton.focus();
    return;
  }
  // Labels in the interface's language (rendered again when it changes).
  panel.keypad.setAttribute("aria-label", t("keypad"));
  panel.keys[KEYS.indexOf("*")].setAttribute("aria-label", `${t("keyStar")} (*)`);
  panel.keys[KEYS.indexOf("#")].setAttribute("aria-label", `${t("keyHash")} (#)`);
  panel.keysLabel.textContent = t("keysLabel");
  panel.keysButton.textContent = t("pressKeys");
  panel.speechLabel.textContent = t("speechLabel");
  panel.speech.placeholder = t("speechPlaceholder");
  panel.speakButton.textContent = t("speak");
  panel.silence.textContent = t("silence");
  panel.hangUp.textContent = t("hangUp");
  panel.close.textContent = t("closeCall");

  const waiting = call.waiting;
  const inputs = (waiting?.input || "").split(/\s+/);
  const takesKeys = !call.ended && (call.busy || inputs.includes("dtmf"));
  const listens = !call.ended && Boolean(waiting) && inputs.includes("speech");
  const stateName = call.ended ? "ended" : call.busy ? "busy" : listens ? "speech" : waiting ? "keys" : call.connected ? "connected" : "on";
  panel.root.dataset.state = stateName;
  panel.status.dir = uiDir();
  panel.status.textContent = {
    ended: t("callEnded"),
    busy: call.heard.length ? t("callBusy") : t("callStarting"),
    speech: t("callSpeech"),
    keys: waiting?.digits > 1 ? t("callKeysN", { n: waiting.digits }) : t("callKeys"),
    connected: t("callConnected"),
    on: t("callOn"),
  }[stateName];

  // The transcript is drawn again only when something new was heard (or the language changed).
  const shown = JSON.stringify([uiLang, call.id, call.heard, call.ended_by]);
  if (panel.log.dataset.shown !== shown) {
    panel.log.dataset.shown = shown;
    panel.log.replaceChildren(...call.heard.map((heard) => renderHeard(heard, call)));
    panel.log.scrollTop = panel.log.scrollHeight;
  }
  panel.pending.hidden = !call.pending;
  panel.pending.dir = uiDir();
  panel.pending.textContent = call.pending ? t("keysPressed", { keys: call.pending }) : "";

  for (const key of panel.keys) key.disabled = !takesKeys;
  panel.keysInput.disabled = !takesKeys;
  panel.keysButton.disabled = !takesKeys;
  panel.speech.disabled = !listens;
  panel.speakButton.disabled = !listens;
  // What is said is said in the language the bot listens for.
  if (waiting?.language) panel.speech.lang = waiting.language;
  else panel.speech.removeAttribute("lang");
  panel.silence.disabled = call.ended || !(waiting || call.busy);
  // Once over, the call leaves its transcript the room and the way back to the messages.
  for (const part of [panel.keypad, panel.keysForm, panel.speechForm, panel.silence, panel.hangUp]) part.hidden = call.ended;
  panel.close.hidden = !call.ended;
  if (!call.ended) showError(panel.error, null);

  // A control that went away (a key while the bot listens, hang up once over) hands the focus
  // on to what the call asks for now: the words box, a key, or the way back to the messages.
  const active = document.activeElement;
  if (hadFocus && (!panel.root.contains(active) || active.disabled)) {
    const next = call.ended ? panel.close : listens ? panel.speech : panel.keys.find((key) => !key.disabled);
    (next || panel.log).focus();
  }
}

function renderHeard(heard, call) {
  if (heard.kind === "say") {
    // Each line in its own language (a BCP 47 tag such as es-MX), its direction from its letters.
    return el("p", { class: "call-line", "data-testid": "call-line", lang: heard.language || null, dir: "auto" }, heard.text);
  }
  const text = {
    dial: t("callDialing"),
    connected: t("callConnected"),
    play: heard.text ? `${t("callPlay")}: ${heard.text}` : t("callPlay"),
    hangup: call.ended_by ? `${t("callEnded")}. ${t(`callEndedBy.${call.ended_by}`)}` : t("callEnded"),
  }[heard.kind] || heard.kind;
  return el("p", { class: "note call-note", "data-testid": "call-event", "data-kind": heard.kind, dir: uiDir() }, text);
}

async function startCall(phoneId) {
  const card = cards.get(phoneId);
  if (!card?.call) return;
  showError(card.call.error, null);
  card.callButton.disabled = true;
  const result = await request("POST", `phones/${encodeURIComponent(phoneId)}/call`);
  if (!result.ok) {
    card.callButton.disabled = false;
    // The panel may still be closed: the error shows under the messages then.
    showError(state.calls.has(phoneId) ? card.call.error : card.error, result);
    return;
  }
  setCall(phoneId, result.data);
  const first = card.call.keys.find((key) => !key.disabled);
  (first || card.call.log).focus();
}

async function callRequest(phoneId, path, body) {
  const card = cards.get(phoneId);
  if (!card?.call) return null;
  const result = await request("POST", `phones/${encodeURIComponent(phoneId)}/call/${path}`, body);
  showError(card.call.error, result.ok ? null : result);
  if (result.ok) setCall(phoneId, result.data);
  else if (result.status === 404 && result.code === "no_call") setCall(phoneId, null);
  return result;
}

async function pressKeys(phoneId, keys, { send = false, from = null } = {}) {
  const result = await callRequest(phoneId, "keys", { keys, send });
  if (result?.ok && from) from.value = "";
}

async function speak(phoneId, text) {
  const card = cards.get(phoneId);
  if (!card?.call) return;
  if (!text.trim()) {
    showError(card.call.error, { ok: false, code: "empty_speech", error: t("errors.empty_speech") });
    card.call.speech.focus();
    return;
  }
  const result = await callRequest(phoneId, "speech", { text });
  if (result?.ok) card.call.speech.value = "";
}

function callAction(phoneId, action) {
  return callRequest(phoneId, action);
}

async function closeCall(phoneId) {
  const card = cards.get(phoneId);
  const result = await request("DELETE", `phones/${encodeURIComponent(phoneId)}/call`);
  if (result.ok) setCall(phoneId, null);
  else if (card?.call) showError(card.call.error, result);
  card?.input.focus();
}

// ------------------------------------------------------------------ actions

async function sendText(phoneId, text, { fromComposer = false } = {}) {
  const card = cards.get(phoneId);
  if (!card) return;
  if (!text.trim()) {
    showError(card.error, { ok: false, code: "empty", error: t("errors.empty") });
    if (fromComposer) card.input.focus();
    return;
  }
  showError(card.error, null);
  if (fromComposer) {
    card.input.value = "";
    drafts.delete(phoneId);
    updateCounter(card);
  }
  const result = await request("POST", `phones/${encodeURIComponent(phoneId)}/messages`, { text });
  if (!result.ok) {
    showError(card.error, result);
    if (fromComposer && !card.input.value) {
      card.input.value = text;
      drafts.set(phoneId, text);
      updateCounter(card);
    }
    return;
  }
  if (result.data?.id) upsertEntry(result.data);
}

async function press(phoneId, messageId, data, button) {
  const card = cards.get(phoneId);
  if (!card || messageId === null || messageId === undefined) return;
  button.setAttribute("aria-busy", "true");
  const result = await request("POST", `phones/${encodeURIComponent(phoneId)}/press`, { message_id: messageId, data });
  button.removeAttribute("aria-busy");
  showError(card.error, result);
}

async function removePhone(phoneId) {
  const phone = state.phones.get(phoneId);
  if (!phone || !window.confirm(t("confirmRemove", { name: phone.name }))) return;
  const result = await request("DELETE", `phones/${encodeURIComponent(phoneId)}`);
  if (result.ok || result.status === 404) forgetPhone(phoneId);
  else showError(cards.get(phoneId).error, result);
}

function addPhone(phone) {
  const known = state.phones.has(phone.id);
  state.phones.set(phone.id, phone);
  if (!state.transcripts.has(phone.id)) state.transcripts.set(phone.id, []);
  renderCard(phone, { rebuild: false });
  return !known;
}

function forgetPhone(phoneId) {
  state.phones.delete(phoneId);
  state.transcripts.delete(phoneId);
  state.calls.delete(phoneId);
  removeCard(phoneId);
}

function setupForm() {
  const form = $("#add-phone");
  const kind = $("#phone-kind");
  const numberField = $("#number-field");
  const zipField = $("#zip-field");
  const coordinatorField = $("#coordinator-field");
  const coordinator = $("#phone-coordinator");
  const language = $("#phone-language");
  const error = $("#form-error");
  const submit = $('[data-testid="add-phone-submit"]');
  language.value = uiLang;
  const sync = () => {
    const sms = kind.value === "sms";
    numberField.hidden = !sms;
    zipField.hidden = !sms;
    coordinatorField.hidden = sms;
    const hint = $("#language-hint");
    hint.dataset.i18n = sms ? "languageHintSms" : "languageHintTelegram";
    hint.textContent = t(hint.dataset.i18n);
    if (sms) coordinator.checked = false;
  };
  kind.addEventListener("change", sync);
  sync();
  form.addEventListener("input", () => showError(error, null));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const sms = kind.value === "sms";
    const body = {
      kind: kind.value,
      name: $("#phone-name").value.trim(),
      language: language.value,
      role: !sms && coordinator.checked ? "coordinator" : "member",
    };
    const number = $("#phone-number").value.trim();
    if (sms && number) body.number = number;
    const zip = $("#phone-zip").value.trim();
    if (sms && zip) body.zip_code = zip;
    submit.disabled = true;
    submit.textContent = t("adding");
    const result = await request("POST", "phones", body);
    submit.disabled = false;
    submit.textContent = t("add");
    showError(error, result);
    if (!result.ok) {
      const numberProblem = ["invalid_number", "duplicate_number", "own_number"].includes(result.code);
      (numberProblem ? $("#phone-number") : result.code === "bad_zip" ? $("#phone-zip") : submit).focus();
      return;
    }
    $("#phone-name").value = "";
    $("#phone-number").value = "";
    $("#phone-zip").value = "";
    coordinator.checked = false;
    addPhone(result.data);
    const card = cards.get(result.data.id);
    card?.root.scrollIntoView({ block: "nearest", behavior: "smooth" });
    card?.input.focus({ preventScroll: true });
  });
}

// ------------------------------------------------------------------ live updates

function applyEvent(type, data) {
  switch (type) {
    case "phone":
      addPhone(data);
      break;
    case "phone-removed":
      forgetPhone(data.id);
      break;
    case "message":
    case "edit":
      upsertEntry(data);
      break;
    case "notice":
      showNotice(data);
      break;
    case "call":
      setCall(data.phone_id, data.call);
      break;
    default:
      break;
  }
}

function onEvent(type, event) {
  let data;
  try {
    data = JSON.parse(event.data);
  } catch {
    return;
  }
  if (loading) buffered.push([type, data]);
  else applyEvent(type, data);
}

async function loadState() {
  if (loading) return loading;
  buffered = [];
  loading = (async () => {
    const result = await request("GET", "state");
    if (result.ok) {
      const data = result.data;
      state.bot = data.bot || state.bot;
      if (Array.isArray(data.languages) && data.languages.length) {
        state.languages = new Map(data.languages.map((l) => [l.code, { name: l.name, direction: l.direction }]));
        renderLanguageOptions();
      }
      const ids = new Set(data.phones.map((p) => p.id));
      for (const id of [...state.phones.keys()]) if (!ids.has(id)) forgetPhone(id);
      state.calls = new Map(Object.entries(data.calls || {}));
      for (const phone of data.phones) {
        state.phones.set(phone.id, phone);
        state.transcripts.set(phone.id, data.transcripts[phone.id] || []);
        const card = cards.get(phone.id);
        if (card) {
          updateHeader(card, phone);
          renderLog(phone.id);
          renderCall(phone.id);
        } else renderCard(phone);
      }
      // Cards in the server's order, moving only those out of place (a move drops focus).
      const container = $("#phones");
      data.phones.forEach((phone, index) => {
        const root = cards.get(phone.id).root;
        if (container.children[index] !== root) container.insertBefore(root, container.children[index] || null);
      });
      updateEmpty();
    }
  })();
  try {
    await loading;
  } finally {
    loading = null;
    const pending = buffered;
    buffered = [];
    for (const [type, data] of pending) applyEvent(type, data);
  }
}

let source = null;
function connect() {
  source = new EventSource(api("events"));
  source.addEventListener("open", () => {
    setConnection("live");
    // Whatever happened while disconnected is in the state.
    loadState();
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      setConnection("closed");
      source.close();
      window.setTimeout(connect, 5000);
    } else {
      setConnection("reconnecting");
    }
  });
  for (const type of ["phone", "phone-removed", "message", "edit", "notice", "call"]) {
    source.addEventListener(type, (event) => onEvent(type, event));
  }
}

function start() {
  for (const button of document.querySelectorAll(".ui-lang button")) {
    button.addEventListener("click", () => setLanguage(button.dataset.lang));
  }
  setupForm();
  applyLanguage();
  updateEmpty();
  loadState();
  connect();
}

start();
