// The seller's camera and microphone: device choice, local preview, and the
// WebRTC publish to the server (go live / stop video / end the session).

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
    this.preview = $('#preview');
    this.cameraSelect = $('#camera-select');
    this.micSelect = $('#mic-select');
    this.status = $('[data-testid=publish-status]');

    $('#preview-button').addEventListener('click', () => this.startCamera().catch(() => {}));
    $('#go-live').addEventListener('click', () => this.goLive());
    $('#stop-stream').addEventListener('click', () => this.stopStream());
    $('#end-live').addEventListener('click', () => this.endLive());
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

  constraints(kind, deviceId) {
    if (kind === 'video') {
      const video = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
      if (deviceId) video.deviceId = { exact: deviceId };
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
    try {
      const fresh = await navigator.mediaDevices.getUserMedia({ [kind]: this.constraints(kind, select.value) });
      const track = fresh.getTracks()[0];
      for (const old of this.stream.getTracks().filter((x) => x.kind === kind)) {
        this.stream.removeTrack(old);
        old.stop();
      }
      this.stream.addTrack(track);
      if (this.publisher) await this.publisher.replaceTrack(track);
    } catch (error) {
      this.notice.show(t('seller.cameraError', { reason: error.name || error.message }), 'error');
    }
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

  async endLive() {
    if (!window.confirm(t('seller.endConfirm'))) return;
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
    const state = this.publisher?.pc.connectionState;
    const onAir = Boolean(this.publisher) && (state === 'connected' || this.model.streamLive);
    this.status.dataset.live = String(onAir);
    this.status.textContent = t(onAir ? 'seller.publishing' : 'seller.notPublishing');
    const overlay = $('#preview-overlay');
    overlay.hidden = Boolean(this.stream);
    $('#stop-stream').disabled = !this.publisher;
    $('#go-live').disabled = Boolean(this.publisher) || this.model.room?.status === 'ended';
    $('#end-live').disabled = this.model.room?.status === 'ended';
  }
}
