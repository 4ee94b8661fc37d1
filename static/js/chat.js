// The chat page over /ws/chat/ (see chat/consumers.py for the messages): ask, watch the answer stream in
// with its "looked up …" cards, confirm or decline a proposed change. Markdown is rendered by markdown-it
// with raw HTML off, so whatever a message contains is shown as text, never run. On every (re)connection
// the page asks for the open conversation again, so a reply that went on while the socket was away is
// caught up from what the server stored. No inline script.
(function () {
  "use strict";

  var root = document.querySelector("[data-chat]");
  if (!root || !window.markdownit || !window.RunyardLive) return;

  var md = window.markdownit({ html: false, linkify: false, breaks: false });
  var list = root.querySelector("[data-chat-messages]");
  var form = root.querySelector("[data-chat-form]");
  var input = form.querySelector("textarea");
  var sendButton = form.querySelector("button[type=submit]");
  var errorLine = root.querySelector("[data-chat-error]");
  var fieldError = form.querySelector("[data-chat-field-error]");
  var examples = root.querySelector("[data-chat-examples]");
  var conversation = root.dataset.conversation || null;
  var awaitingNew = false;
  var messages = {}; // id → {data, node}
  var socket = null;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderCard(card) {
    var details = el("details", "chat-card" + (card.refusal ? " refused" : ""));
    details.dataset.testid = "tool-card";
    details.appendChild(el("summary", "", (card.refusal ? "Could not look up: " : "Looked up: ") + card.title));
    var body = el("div");
    if (card.refusal) body.appendChild(el("p", "", card.refusal));
    else body.innerHTML = md.render(card.text || "");
    if (card.truncated) body.appendChild(el("p", "muted", "Cut to fit; the linked page has the rest."));
    if (card.links && card.links.length) {
      var links = el("ul", "links");
      card.links.forEach(function (pair) {
        var item = el("li"), link = el("a", "", pair[0]);
        link.href = pair[1];
        item.appendChild(link);
        links.appendChild(item);
      });
      body.appendChild(links);
    }
    details.appendChild(body);
    return details;
  }

  function renderPending(data) {
    var box = el("div");
    (data.pending || []).forEach(function (change, index) {
      var part = el("div", "chat-pending");
      part.appendChild(el("p", "", change.prompt));
      if (change.state === "waiting") {
        var buttons = el("div", "buttons");
        var yes = el("button", "", "Confirm"), no = el("button", "secondary", "Cancel");
        yes.type = no.type = "button";
        yes.dataset.testid = "confirm-change";
        yes.addEventListener("click", function () { answer(data.id, index, true); });
        no.addEventListener("click", function () { answer(data.id, index, false); });
        buttons.appendChild(yes);
        buttons.appendChild(no);
        part.appendChild(buttons);
      } else {
        part.appendChild(el("p", "muted", change.state === "confirmed" ? "Confirmed." : "Declined."));
      }
      box.appendChild(part);
    });
    return box;
  }

  function draw(id) {
    var entry = messages[id], data = entry.data, node = entry.node;
    node.className = "chat-message role-" + data.role + " state-" + data.state + (data.state === "streaming" ? " streaming" : "");
    node.replaceChildren();
    node.appendChild(el("div", "who", data.role === "user" ? "You" : "Runyard" + (data.provider && data.provider !== "analyst" ? " (" + data.provider + ")" : "")));
    if (data.role === "user") {
      node.appendChild(el("div", "question", data.content));
      return;
    }
    if (data.notice) node.appendChild(el("p", "notice", data.notice));
    (data.lookups || []).forEach(function (card) { node.appendChild(renderCard(card)); });
    var answerNode = el("div", "answer");
    answerNode.dataset.testid = "answer";
    answerNode.innerHTML = md.render(data.content || "");
    node.appendChild(answerNode);
    node.appendChild(renderPending(data));
  }

  function upsert(data) {
    var entry = messages[data.id];
    if (!entry) {
      entry = messages[data.id] = { data: data, node: el("li") };
      entry.node.dataset.message = data.id;
      list.appendChild(entry.node);
    } else {
      entry.data = data;
    }
    draw(data.id);
    examples.hidden = true;
    busy(Object.keys(messages).some(function (key) { return messages[key].data.state === "streaming"; }));
    entry.node.scrollIntoView({ block: "end" });
  }

  function busy(on) { sendButton.disabled = on; }

  function showError(text) {
    errorLine.textContent = text || "";
    errorLine.hidden = !text;
  }

  function adopt(about) {
    if (conversation === about.code) return;
    conversation = about.code;
    awaitingNew = false;
    root.dataset.conversation = conversation;
    var url = root.dataset.chatUrl + conversation + "/";
    window.history.replaceState(null, "", url);
    var empty = root.querySelector("[data-chat-list-empty]");
    if (empty) empty.remove();
    var item = el("li"), link = el("a", "", about.title);
    link.href = url;
    link.dataset.code = conversation;
    link.setAttribute("aria-current", "page");
    item.appendChild(link);
    root.querySelector("[data-chat-list]").prepend(item);
    root.querySelector("[data-chat-title]").textContent = about.title;
  }

  function mine(event) { return event.conversation && event.conversation === conversation; }

  var handlers = {
    ready: function (message, send) {
      send({ type: "open", conversation: conversation });
    },
    conversation: function (message) {
      if (!message.conversation || message.conversation.code !== conversation) return;
      message.messages.forEach(upsert);
    },
    message: function (event) {
      if (awaitingNew && !conversation && event.message.role === "user") adopt(event.about);
      if (mine(event)) upsert(event.message);
    },
    delta: function (event) {
      var entry = mine(event) && messages[event.message];
      if (!entry) return;
      var have = entry.data.content.length, end = event.offset + event.text.length;
      if (event.offset > have) { socket.send({ type: "open", conversation: conversation }); return; } // a gap: catch up
      if (end > have) entry.data.content += event.text.slice(have - event.offset);
      draw(event.message);
    },
    lookup: function (event) {
      var entry = mine(event) && messages[event.message];
      if (!entry) return;
      entry.data.lookups = (entry.data.lookups || []).concat([event.card]);
      draw(event.message);
    },
    pending: function (event) {
      var entry = mine(event) && messages[event.message];
      if (!entry) return;
      entry.data.pending = event.pending;
      draw(event.message);
    },
    reset: function (event) {
      var entry = mine(event) && messages[event.message];
      if (!entry) return;
      entry.data.content = "";
      entry.data.notice = event.notice;
      draw(event.message);
    },
    done: function (event) {
      if (mine(event)) upsert(event.message);
    },
    error: function (event) {
      busy(false);
      if (event.fields && event.fields.text) {
        fieldError.textContent = event.fields.text.join(" ");
        fieldError.hidden = false;
      } else {
        showError(event.message);
      }
    }
  };

  function ask(text) {
    showError("");
    fieldError.hidden = true;
    text = text.trim();
    if (!text) {
      fieldError.textContent = "Type a question first.";
      fieldError.hidden = false;
      return;
    }
    if (!socket.send({ type: "ask", conversation: conversation, text: text })) {
      showError("Not connected yet; reconnecting. Your question is still in the box.");
      return;
    }
    if (!conversation) awaitingNew = true;
    input.value = "";
    busy(true);
  }

  function answer(id, index, accept) {
    if (!socket.send({ type: "confirm", message: id, index: index, accept: accept })) {
      showError("Not connected yet; reconnecting. Try again in a moment.");
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    ask(input.value);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      if (!sendButton.disabled) ask(input.value);
    }
  });
  root.querySelectorAll("[data-example]").forEach(function (button) {
    button.addEventListener("click", function () { input.value = button.textContent; input.focus(); });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (node) {
    node.addEventListener("submit", function (event) {
      if (!window.confirm(node.dataset.confirm)) event.preventDefault();
    });
  });

  JSON.parse(document.getElementById("chat-stored").textContent).forEach(upsert);
  socket = window.RunyardLive.connect("/ws/chat/", handlers);
})();
