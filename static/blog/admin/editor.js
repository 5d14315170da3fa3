/*
 * Kabar's post editor, on top of django-markdownx:
 * - warn before leaving the page with unsaved changes (not when the form is submitted);
 * - after "Save and continue editing", put the cursor and scroll back where they were;
 * - show why an image upload was refused, instead of markdownx's "Invalid response" text.
 */
(function () {
  "use strict";

  const CURSOR_KEY = "kabar-editor-cursor:" + window.location.pathname;

  function serialize(form) {
    const pairs = [];
    new FormData(form).forEach(function (value, key) {
      if (key !== "csrfmiddlewaretoken") {
        pairs.push(key + "=" + (typeof value === "string" ? value : value.name));
      }
    });
    return pairs.join("&");
  }

  function watchUnsavedChanges(form) {
    const saved = serialize(form);
    let submitting = false;
    form.addEventListener("submit", function () {
      submitting = true;
    });
    window.addEventListener("beforeunload", function (event) {
      if (!submitting && serialize(form) !== saved) {
        event.preventDefault();
        event.returnValue = "";  // older browsers need it set to show the prompt
      }
    });
  }

  function keepCursor(form, editor) {
    form.addEventListener("submit", function (event) {
      if (!event.submitter || event.submitter.name !== "_continue") {
        return;
      }
      const place = {start: editor.selectionStart, end: editor.selectionEnd, scroll: editor.scrollTop};
      window.sessionStorage.setItem(CURSOR_KEY, JSON.stringify(place));
    });
    const stored = window.sessionStorage.getItem(CURSOR_KEY);
    window.sessionStorage.removeItem(CURSOR_KEY);
    if (!stored) {
      return;
    }
    const place = JSON.parse(stored);
    editor.focus({preventScroll: true});
    editor.setSelectionRange(place.start, place.end);
    editor.scrollTop = place.scroll;
    editor.scrollIntoView({block: "center"});
  }

  function describe(response) {
    if (response && typeof response === "object") {
      const parts = [];
      Object.keys(response).forEach(function (key) {
        parts.push.apply(parts, [].concat(response[key]));
      });
      if (parts.length) {
        return parts.join(" ");
      }
    }
    return "The upload failed: the server did not answer. Try again.";
  }

  function reportUploadErrors(container, editor) {
    const note = document.createElement("p");
    note.className = "errornote kabar-upload-error";
    note.setAttribute("role", "alert");
    note.hidden = true;
    container.insertBefore(note, container.firstChild);

    function failed(event) {
      note.textContent = describe(event.detail && event.detail[0]);
      note.hidden = false;
      // markdownx writes "Invalid response" into the text right after this event: undo it.
      const text = editor.value;
      const start = editor.selectionStart;
      const end = editor.selectionEnd;
      window.setTimeout(function () {
        if (editor.value !== text) {
          editor.value = text;
          editor.setSelectionRange(start, end);
          editor.dispatchEvent(new Event("input"));
        }
      }, 0);
    }
    container.addEventListener("markdownx.fileUploadError", failed);
    container.addEventListener("fileUploadError", failed);
    container.addEventListener("markdownx.fileUploadEnd", function () {
      note.hidden = true;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("post_form");
    if (!form) {
      return;
    }
    watchUnsavedChanges(form);
    form.querySelectorAll(".markdownx").forEach(function (container) {
      const editor = container.querySelector("textarea");
      if (editor) {
        keepCursor(form, editor);
        reportUploadErrors(container, editor);
      }
    });
  });
})();
