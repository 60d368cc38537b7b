// The review page: send a review to the app-service, show the verdict, send the user's feedback.
// Every call carries X-App-Version, so the mesh keeps the visitor on one arm end to end, and X-Visitor-Id,
// the visitor's random id (the experiment's unit: docs/architecture.md), which the page was rendered with.

const REQUEST_TIMEOUT_MS = 10000;
const MAX_REVIEW_CHARS = 5000;
const VERDICTS = {
  positive: { title: "Positive", sentence: "We think you liked it." },
  negative: { title: "Negative", sentence: "We think you did not like it." },
};

const root = document.getElementById("app");
const config = {
  apiUrl: root.dataset.apiUrl,
  version: root.dataset.appVersion,
  visitorId: root.dataset.visitorId,
  showConfidence: root.dataset.showConfidence === "true",
};
const $ = (id) => document.getElementById(id);
const ui = {
  form: $("review-form"),
  review: $("review"),
  count: $("review-count"),
  reviewError: $("review-error"),
  submit: $("submit"),
  alert: $("alert"),
  result: $("result"),
  verdict: $("verdict"),
  confidence: $("confidence"),
  confidenceValue: $("confidence-value"),
  confidenceFill: $("confidence-fill"),
  correct: $("feedback-correct"),
  wrong: $("feedback-wrong"),
  feedbackStatus: $("feedback-status"),
  footerChain: $("footer-chain"),
};

let current = null; // the review on screen: {id, label}

class ApiError extends Error {}

async function post(path, body) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  let response;
  try {
    response = await fetch(config.apiUrl + path, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-App-Version": config.version,
        "X-Visitor-Id": config.visitorId,
      },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
  } catch (error) {
    throw new ApiError(
      error.name === "AbortError"
        ? "The service took too long to answer. Please try again."
        : "Cannot reach the sentiment service. Check your connection and try again.",
    );
  } finally {
    clearTimeout(timer);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(messageFor(response.status, data));
  return data;
}

function messageFor(status, data) {
  if (status === 429) return "Too many requests: please slow down and try again in a few seconds.";
  if (status >= 500) return "The sentiment service is unavailable right now. Please try again in a moment.";
  const detail = data && data.detail;
  if (typeof detail === "string") return sentence(detail);
  if (Array.isArray(detail) && detail.length && detail[0].msg) return sentence(detail[0].msg);
  return `The request was refused (HTTP ${status}).`;
}

function sentence(text) {
  const capitalised = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

function showAlert(message) {
  ui.alert.textContent = message;
  ui.alert.hidden = false;
}

function setBusy(busy) {
  ui.form.setAttribute("aria-busy", String(busy));
  ui.submit.disabled = busy;
  ui.submit.classList.toggle("busy", busy);
  ui.submit.querySelector(".button-text").textContent = busy ? "Analysing…" : "Analyse review";
}

function showReviewError(message) {
  ui.reviewError.textContent = message;
  ui.reviewError.hidden = !message;
  ui.review.setAttribute("aria-invalid", String(Boolean(message)));
}

function updateCount() {
  const length = ui.review.value.length;
  ui.count.textContent = `${length} / ${MAX_REVIEW_CHARS}`;
  ui.count.classList.toggle("near-limit", length > MAX_REVIEW_CHARS * 0.9);
}

function showVerdict(answer) {
  const verdict = VERDICTS[answer.label];
  current = { id: answer.id, label: answer.label };
  ui.result.dataset.label = answer.label;
  ui.verdict.textContent = "";
  const title = document.createElement("span");
  title.className = "verdict-title";
  title.textContent = verdict.title;
  const line = document.createElement("span");
  line.className = "verdict-sentence";
  line.textContent = verdict.sentence;
  ui.verdict.append(title, line);

  const percent = Math.round(answer.confidence * 100);
  ui.confidence.hidden = !(config.showConfidence && typeof answer.confidence === "number");
  if (!ui.confidence.hidden) {
    ui.confidenceValue.textContent = `${percent}%`;
    ui.confidenceFill.style.width = `${percent}%`;
  }
  for (const button of [ui.correct, ui.wrong]) {
    button.disabled = false;
    button.setAttribute("aria-pressed", "false");
  }
  ui.feedbackStatus.textContent = "";
  ui.feedbackStatus.className = "feedback-status";
  const versions = answer.versions;
  ui.footerChain.textContent = `answered by app-service ${versions.app_service}, model-service ${versions.model_service}, model ${versions.model}`;
  ui.footerChain.hidden = false;
  ui.result.hidden = false;
  ui.verdict.focus();
}

async function submitReview(event) {
  event.preventDefault();
  ui.alert.hidden = true;
  const review = ui.review.value;
  if (!review.trim()) {
    showReviewError("Write a review first: it cannot be empty.");
    ui.review.focus();
    return;
  }
  showReviewError("");
  setBusy(true);
  try {
    showVerdict(await post("/api/v1/sentiment", { review }));
  } catch (error) {
    ui.result.hidden = true;
    ui.footerChain.hidden = true; // it named who answered the verdict that is gone now
    showAlert(error.message);
  } finally {
    setBusy(false);
  }
}

async function sendFeedback(isCorrect) {
  if (!current) return;
  const label = isCorrect ? current.label : current.label === "positive" ? "negative" : "positive";
  const pressed = isCorrect ? ui.correct : ui.wrong;
  ui.correct.disabled = ui.wrong.disabled = true;
  ui.feedbackStatus.className = "feedback-status";
  ui.feedbackStatus.textContent = "Sending…";
  try {
    await post(`/api/v1/reviews/${encodeURIComponent(current.id)}/feedback`, { label });
    pressed.setAttribute("aria-pressed", "true");
    ui.feedbackStatus.classList.add("done");
    ui.feedbackStatus.textContent = isCorrect
      ? "Thanks! Glad we got it right."
      : `Thanks! We noted that your review is ${label}; it helps us learn.`;
    ui.feedbackStatus.focus(); // the buttons are disabled now: keep the keyboard user here
  } catch (error) {
    ui.correct.disabled = ui.wrong.disabled = false;
    ui.feedbackStatus.classList.add("error");
    ui.feedbackStatus.textContent = error.message;
  }
}

ui.form.addEventListener("submit", submitReview);
ui.review.addEventListener("input", () => {
  updateCount();
  if (ui.review.value.trim()) showReviewError("");
});
ui.review.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) ui.form.requestSubmit();
});
ui.correct.addEventListener("click", () => sendFeedback(true));
ui.wrong.addEventListener("click", () => sendFeedback(false));
updateCount();
