// The seller's camera and microphone: device choice, local preview, and the
// WebRTC publish to the server (go live / stop video / end the session).
// `flipCamera()` turns between the front and back camera in one tap (the
// phone studio's 🔄 and the desktop's "Đổi camera"); `onChange(fn)` lets the
// phone studio (seller-phone.js) follow the stream and the on-air state.

import { $, clear, h } from './dom.js';
import { errorText, t } from './i18n.js';
import { Publisher } from './webrtc.js';

export class SellerMedia {
  /**
   * @param {{conn: import('./protocol.js').RoomConnection, model: object,
   *          notice: import('./ui.js').Notice, hook: object}} deps
   */
  constructor({ conn, model, notice, hook }) {
    Object.assign(this, { conn, model, notice, hook });
    this.stream = null;
    this.publisher = null;
    /** True while the seller wants to be on air (kept across reconnects). */
    this.wantLive = false;
    /** Which way the camera looks, as `facingMode` says it: 'user' (front) or 'environment' (back). */
    this.facing = 'user';
    /** Who redraws when the stream or the on-air state changes (the phone studio). */
    this.listeners = [];
    this.preview = $('#preview');
    this.cameraSelect = $('#camera-select');
    this.micSelect = $('#mic-select');
    this.status = $('[data-testid=publish-status]');

    $('#preview-button').addEventListener('click', () => this.startCamera().catch(() => {}));
    $('#go-live').addEventListener('click', () => this.goLive());
    $('#stop-stream').addEventListener('click', () => this.stopStream());
    $('#end-live').addEventListener('click', () => this.endLive());
    $('#flip-camera').addEventListener('click', () => this.flipCamera());
    this.cameraSelect.addEventListener('change', () => this.switchDevice('video'));
    this.micSelect.addEventListener('change', () => this.switchDevice('audio'));
    navigator.mediaDevices?.addEventListener?.('devicechange', () => this.listDevices());

    conn.on('publish_answer', (m) => this.publisher?.acceptAnswer(m.sdp).catch((e) => console.error(e)));
    // Signalling replies carry no request id: their refusals come as id-less errors.
    conn.on('error', (m) => {
      if (!m.id) this.notice.show(errorText({ code: m.code, retryAfterMs: m.retry_after_ms }), 'error');
    });
    conn.on('ice_candidate', (m) => {
      if (m.target === 'publish') this.publisher?.addRemoteCandidate(m.candidate);
    });
    this.listDevices().catch(() => {});
    this.render();
  }

  /** Call `fn()` after every redraw of the camera's state. */
  onChange(fn) {
    this.listeners.push(fn);
  }

  /** On air: publishing and the server (or the connection) says so. */
  get onAir() {
    const state = this.publisher?.pc.connectionState;
    return Boolean(this.publisher) && (state === 'connected' || this.model.streamLive);
  }

  constraints(kind, deviceId) {
    if (kind === 'video') {
      const video = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
      if (deviceId) video.deviceId = { exact: deviceId };
      // No device chosen: the side the seller last picked (a phone's front camera at first).
      else video.facingMode = { ideal: this.facing };
      return video;
    }
    return deviceId ? { deviceId: { exact: deviceId }, echoCancellation: true } : { echoCancellation: true };
  }

  async startCamera() {
    if (this.stream) return this.stream;
    if (!navigator.mediaDevices?.getUserMedia) {
      this.notice.show(t('seller.cameraError', { reason: 'getUserMedia' }), 'error', 0);
      throw new Error('no getUserMedia');
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        video: this.constraints('video', this.cameraSelect.value),
        audio: this.constraints('audio', this.micSelect.value),
      });
    } catch (error) {
      this.notice.show(t('seller.cameraError', { reason: error.name || error.message }), 'error', 0);
      throw error;
    }
    this.preview.srcObject = this.stream;
    this.preview.play().catch(() => {});
    await this.listDevices();
    this.render();
    return this.stream;
  }

  async listDevices() {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    const devices = await navigator.mediaDevices.enumerateDevices();
    const fill = (select, kind, current) => {
      const chosen = select.value || current;
      clear(select);
      devices.filter((d) => d.kind === kind).forEach((d, i) => {
        select.append(h('option', { value: d.deviceId }, d.label || `${kind === 'videoinput' ? 'Camera' : 'Micro'} ${i + 1}`));
      });
      if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
    };
    const track = (kind) => this.stream?.getTracks().find((x) => x.kind === kind)?.getSettings().deviceId;
    fill(this.cameraSelect, 'videoinput', track('video'));
    fill(this.micSelect, 'audioinput', track('audio'));
  }

  async switchDevice(kind) {
    if (!this.stream) return;
    const select = kind === 'video' ? this.cameraSelect : this.micSelect;
    await this.replaceTrack(kind, this.constraints(kind, select.value));
  }

  /**
   * Swap the stream's `kind` track for a fresh one from `constraints`, on the
   * preview and on air alike (the publish goes on: `RTCRtpSender.replaceTrack`).
   * True when it worked.
   */
  async replaceTrack(kind, constraints) {
    const drop = () => {
      for (const old of this.stream.getTracks().filter((x) => x.kind === kind)) {
        this.stream.removeTrack(old);
        old.stop();
      }
    };
    try {
      let fresh;
      try {
        fresh = await navigator.mediaDevices.getUserMedia({ [kind]: constraints });
      } catch (error) {
        // Many phones cannot open a second camera while one is open: let go of it first.
        if (error.name !== 'NotReadableError' && error.name !== 'AbortError') throw error;
        drop();
        fresh = await navigator.mediaDevices.getUserMedia({ [kind]: constraints });
      }
      const track = fresh.getTracks()[0];
      drop();
      this.stream.addTrack(track);
      if (this.publisher) await this.publisher.replaceTrack(track);
      return true;
    } catch (error) {
      this.notice.show(t('seller.cameraError', { reason: error.name || error.message }), 'error');
      return false;
    }
  }

  /**
   * Front ↔ back camera in one tap. A phone's cameras say which way they
   * look, so `facingMode` picks the other one; a computer's webcams do not,
   * so with two or more the next one in the device list is taken instead.
   * Before the camera is on, it only changes which side it will start with.
   */
  async flipCamera() {
    const next = this.facing === 'user' ? 'environment' : 'user';
    if (!this.stream) {
      this.facing = next;
      this.render();
      return;
    }
    const current = this.stream.getVideoTracks()[0];
    const knowsFacing = Boolean(current?.getSettings().facingMode);
    const cameras = [...this.cameraSelect.options].map((o) => o.value).filter(Boolean);
    let constraints;
    if (!knowsFacing && cameras.length > 1) {
      const at = cameras.indexOf(current?.getSettings().deviceId);
      constraints = this.constraints('video', cameras[(at + 1) % cameras.length]);
    } else {
      constraints = { ...this.constraints('video', ''), facingMode: { ideal: next } };
    }
    if (!(await this.replaceTrack('video', constraints))) return;
    this.facing = next;
    const chosen = this.stream.getVideoTracks()[0]?.getSettings().deviceId;
    if (chosen && [...this.cameraSelect.options].some((o) => o.value === chosen)) this.cameraSelect.value = chosen;
    this.render();
  }

  async goLive() {
    try {
      await this.startCamera();
    } catch {
      return;
    }
    if (this.model.room?.status === 'scheduled') {
      try {
        await this.conn.request({ type: 'go_live' });
      } catch (error) {
        if (error.code !== 'invalid_state') {
          this.notice.show(errorText(error), 'error');
          return;
        }
      }
    }
    this.wantLive = true;
    await this.publish();
  }

  /** (Re)start the WebRTC publish; also called after a reconnect. */
  async publish() {
    if (!this.wantLive || !this.stream || !this.conn.isOpen) return;
    this.publisher?.close();
    this.publisher = new Publisher(this.conn, this.model.iceServers);
    this.hook.publisher = this.publisher;
    this.hook.pc = this.publisher.pc;
    const mine = this.publisher;
    mine.pc.addEventListener('connectionstatechange', () => {
      this.render();
      // The server drops a failed publish: offer again after a pause.
      if (mine.pc.connectionState === 'failed' && this.publisher === mine) {
        setTimeout(() => { if (this.publisher === mine) this.publish(); }, 2000);
      }
    });
    try {
      await this.publisher.start(this.stream);
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
    this.render();
  }

  stopStream() {
    this.wantLive = false;
    if (this.publisher) this.conn.send({ type: 'unpublish' });
    this.publisher?.close();
    this.publisher = null;
    this.render();
  }

  /** End the session; `confirmed`: the phone studio asked already, in its own sheet. */
  async endLive({ confirmed = false } = {}) {
    if (!confirmed && !window.confirm(t('seller.endConfirm'))) return;
    this.stopStream();
    try {
      await this.conn.request({ type: 'end_live' });
    } catch (error) {
      this.notice.show(errorText(error), 'error');
    }
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.stream = null;
    this.render();
  }

  render() {
    const onAir = this.onAir;
    this.status.dataset.live = String(onAir);
    this.status.textContent = t(onAir ? 'seller.publishing' : 'seller.notPublishing');
    const overlay = $('#preview-overlay');
    overlay.hidden = Boolean(this.stream);
    $('#stop-stream').disabled = !this.publisher;
    $('#go-live').disabled = Boolean(this.publisher) || this.model.room?.status === 'ended';
    $('#end-live').disabled = this.model.room?.status === 'ended';
    // The preview is mirrored only for the front camera (as a mirror would be).
    this.preview.classList.toggle('is-back', this.facing === 'environment');
    for (const fn of this.listeners) fn();
  }
}
