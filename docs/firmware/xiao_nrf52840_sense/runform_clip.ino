// runform DIY clip: reference firmware for the Seeed XIAO nRF52840 Sense (on-board LSM6DS3TR-C).
//
// Documentation of the protocol in docs/protocol.md (version 1), not a tested product: build it
// with the "Seeed nRF52 Boards" Arduino core (Adafruit Bluefruit library) and the
// "Seeed Arduino LSM6DS3" library, and check it against `runform scan` / `runform record`.
//
// Advertises "rfclip-L" (change CLIP_NAME per clip, at most 8 characters) with the runform
// service UUID; streams packets of N samples (header + N x 12 bytes) on the data
// characteristic after a START command; battery and firmware via the standard services.
// Logging to flash (docs/protocol.md, "Logging to flash"): LOG_START / LOG_STOP / LOG_STATUS /
// LOG_READ / LOG_ERASE on the log control characteristic, records on log data, the 64-bit us
// clock on the clock characteristic. The log lives in the on-board 2 MB QSPI flash (one
// 244-byte record per 256-byte page); needs the "Adafruit SPIFlash" library. The record
// numbers are kept in RAM: a reset loses the index (a production firmware would scan the pages
// for their record numbers at boot).

#include <bluefruit.h>
#include <LSM6DS3.h>
#include <Wire.h>
#include <Adafruit_SPIFlash.h>

#define CLIP_NAME "rfclip-L"
#define FIRMWARE_VERSION "1.0.0"
#define PROTOCOL_VERSION 1

// 7e1a0001-5f3c-4b8e-9a51-72756e666f72 and friends, least significant byte first
const uint8_t UUID_SERVICE[16] = {0x72, 0x6f, 0x66, 0x6e, 0x75, 0x72, 0x51, 0x9a,
                                  0x8e, 0x4b, 0x3c, 0x5f, 0x01, 0x00, 0x1a, 0x7e};
const uint8_t UUID_CONFIG[16] = {0x72, 0x6f, 0x66, 0x6e, 0x75, 0x72, 0x51, 0x9a,
                                 0x8e, 0x4b, 0x3c, 0x5f, 0x02, 0x00, 0x1a, 0x7e};
const uint8_t UUID_DATA[16] = {0x72, 0x6f, 0x66, 0x6e, 0x75, 0x72, 0x51, 0x9a,
                               0x8e, 0x4b, 0x3c, 0x5f, 0x03, 0x00, 0x1a, 0x7e};

const uint8_t UUID_LOG_CONTROL[16] = {0x72, 0x6f, 0x66, 0x6e, 0x75, 0x72, 0x51, 0x9a,
                                      0x8e, 0x4b, 0x3c, 0x5f, 0x04, 0x00, 0x1a, 0x7e};
const uint8_t UUID_LOG_DATA[16] = {0x72, 0x6f, 0x66, 0x6e, 0x75, 0x72, 0x51, 0x9a,
                                   0x8e, 0x4b, 0x3c, 0x5f, 0x05, 0x00, 0x1a, 0x7e};
const uint8_t UUID_CLOCK[16] = {0x72, 0x6f, 0x66, 0x6e, 0x75, 0x72, 0x51, 0x9a,
                                0x8e, 0x4b, 0x3c, 0x5f, 0x06, 0x00, 0x1a, 0x7e};

BLEService clipService(UUID_SERVICE);
BLECharacteristic logCtrlChr(UUID_LOG_CONTROL);
BLECharacteristic logDataChr(UUID_LOG_DATA);
BLECharacteristic clockChr(UUID_CLOCK);

Adafruit_FlashTransport_QSPI flashTransport;
Adafruit_SPIFlash flash(&flashTransport);
const uint32_t PAGE = 256, SECTOR = 4096, PAGES_PER_SECTOR = SECTOR / PAGE;
uint32_t flashPages = 0;             // capacity in records (one per page)
volatile bool logging = false;
bool logWrap = false, logFull = false;
uint32_t firstRecord = 0, nextRecord = 0, overwritten = 0;
uint8_t logRate = 0, logRanges = 0x43;
uint8_t rec[244];
uint8_t nInRecord = 0;
uint64_t recFirstUs = 0;
bool firstOfLog = true;
uint32_t readFrom = 0, readEnd = 0;  // a LOG_READ in progress
bool reading = false;

// 64-bit microseconds: micros() wraps after 71.6 min, a run can be longer
uint64_t clockUs() {
  static uint32_t last = 0;
  static uint64_t high = 0;
  uint32_t now = micros();
  if (now < last) high += (1ULL << 32);
  last = now;
  return high | now;
}
BLECharacteristic configChr(UUID_CONFIG);
BLECharacteristic dataChr(UUID_DATA);
BLEDis dis;
BLEBas bas;

LSM6DS3 imu(I2C_MODE, 0x6A);

// supported values; the index is the code sent in each packet header
const uint16_t RATES_HZ[] = {104, 208, 416, 833, 1666};
const uint8_t ACC_RANGES_G[] = {2, 4, 8, 16};
const uint16_t GYR_RANGES_DPS[] = {125, 250, 500, 1000, 2000};

uint8_t rateCode = 3, accCode = 3, gyrCode = 4;  // 833 Hz, 16 g, 2000 deg/s
uint8_t maxSamplesPerPacket = 0;                 // 0: as many as the MTU allows
volatile bool streaming = false;
uint16_t packetCounter = 0;

uint8_t packet[244];  // MTU 247 - 3
uint8_t nInPacket = 0;
uint32_t firstTimestampUs = 0;

static int indexOf16(const uint16_t* table, int n, uint16_t v) {
  for (int i = 0; i < n; i++) if (table[i] == v) return i;
  return -1;
}
static int indexOf8(const uint8_t* table, int n, uint8_t v) {
  for (int i = 0; i < n; i++) if (table[i] == v) return i;
  return -1;
}

uint8_t samplesPerPacket() {
  uint16_t mtu = Bluefruit.Connection(0) ? Bluefruit.Connection(0)->getMtu() : 23;
  int fit = (mtu - 3 - 10) / 12;
  if (fit < 1) fit = 1;
  if (maxSamplesPerPacket && maxSamplesPerPacket < fit) fit = maxSamplesPerPacket;
  return (uint8_t)fit;
}

void writeConfigValue() {
  uint8_t v[8];
  uint16_t rate = RATES_HZ[rateCode], gyr = GYR_RANGES_DPS[gyrCode];
  v[0] = PROTOCOL_VERSION;
  v[1] = streaming ? 1 : 0;
  v[2] = rate & 0xFF; v[3] = rate >> 8;
  v[4] = ACC_RANGES_G[accCode];
  v[5] = gyr & 0xFF; v[6] = gyr >> 8;
  v[7] = samplesPerPacket();
  configChr.write(v, sizeof(v));
}

// LSM6DS3 register values for the chosen rate and ranges (datasheet tables 52 and 55)
void applyImuConfig() {
  const uint8_t odrBits[] = {0x40, 0x50, 0x60, 0x70, 0x80};   // 104 ... 1666 Hz
  const uint8_t accFs[] = {0x00, 0x08, 0x0C, 0x04};          // 2, 4, 8, 16 g
  const uint8_t gyrFs[] = {0x02, 0x00, 0x04, 0x08, 0x0C};    // 125, 250, 500, 1000, 2000 dps
  imu.writeRegister(LSM6DS3_ACC_GYRO_CTRL1_XL, odrBits[rateCode] | accFs[accCode]);
  imu.writeRegister(LSM6DS3_ACC_GYRO_CTRL2_G, odrBits[rateCode] | gyrFs[gyrCode]);
  imu.writeRegister(LSM6DS3_ACC_GYRO_INT1_CTRL, 0x03);  // data-ready of acc and gyro on INT1
}

void onConfigWrite(uint16_t conn, BLECharacteristic* chr, uint8_t* data, uint16_t len) {
  if (len < 1) return;
  switch (data[0]) {
    case 0x01:  // CONFIGURE: rate u16, acc u8, gyro u16, max samples u8
      if (len == 7) {
        int r = indexOf16(RATES_HZ, 5, data[1] | (data[2] << 8));
        int a = indexOf8(ACC_RANGES_G, 4, data[3]);
        int g = indexOf16(GYR_RANGES_DPS, 5, data[4] | (data[5] << 8));
        if (r >= 0) rateCode = r;  // unsupported values are ignored; the central checks
        if (a >= 0) accCode = a;
        if (g >= 0) gyrCode = g;
        maxSamplesPerPacket = data[6];
        applyImuConfig();
      }
      break;
    case 0x02:  // START
      packetCounter = 0;
      nInPacket = 0;
      streaming = true;
      break;
    case 0x03:  // STOP
      streaming = false;
      break;
  }
  writeConfigValue();
}

void onDisconnect(uint16_t conn, uint8_t reason) { streaming = false; reading = false; }

void answer(uint8_t op, uint8_t status, const uint8_t* payload = nullptr, uint8_t n = 0) {
  uint8_t a[32];
  a[0] = op | 0x80;
  a[1] = status;
  for (uint8_t i = 0; i < n; i++) a[2 + i] = payload[i];
  logCtrlChr.notify(a, 2 + n);
}

static void put32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = v >> (8 * i); }
static uint32_t get32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24); }

// write the record being filled to its page (erasing a sector when the log enters it)
void flushRecord() {
  if (nInRecord == 0) return;
  if (nextRecord - firstRecord >= flashPages) {          // full
    if (!logWrap) { logFull = true; logging = false; nInRecord = 0; return; }
    // overwrite: the sector holding the oldest records is erased, its records are gone
    uint32_t drop = PAGES_PER_SECTOR - (firstRecord % PAGES_PER_SECTOR);
    firstRecord += drop;
    overwritten += drop;
    logFull = true;
  }
  uint32_t page = nextRecord % flashPages;
  if (page % PAGES_PER_SECTOR == 0) flash.eraseSector(page / PAGES_PER_SECTOR);
  put32(rec, nextRecord);
  for (int i = 0; i < 8; i++) rec[4 + i] = recFirstUs >> (8 * i);
  rec[12] = logRate;
  rec[13] = logRanges;
  rec[14] = nInRecord;
  rec[15] = firstOfLog ? 0x01 : 0x00;
  flash.writeBuffer(page * PAGE, rec, 16 + 12 * nInRecord);
  firstOfLog = false;
  nextRecord++;
  nInRecord = 0;
}

void onLogControl(uint16_t conn, BLECharacteristic* chr, uint8_t* d, uint16_t len) {
  if (len < 1) return;
  uint8_t op = d[0];
  switch (op) {
    case 0x10: {  // LOG_START rate u16, acc u8, gyro u16, flags u8
      if (len != 7) { answer(op, 2); return; }
      int r = indexOf16(RATES_HZ, 5, d[1] | (d[2] << 8));
      int a = indexOf8(ACC_RANGES_G, 4, d[3]);
      int g = indexOf16(GYR_RANGES_DPS, 5, d[4] | (d[5] << 8));
      if (r < 0 || a < 0 || g < 0) { answer(op, 2); return; }
      rateCode = logRate = r; accCode = a; gyrCode = g;
      logRanges = a | (g << 4);
      applyImuConfig();
      logWrap = d[6] & 0x01;
      firstRecord = nextRecord = overwritten = 0;
      logFull = false; firstOfLog = true; nInRecord = 0;
      logging = true;
      answer(op, 0);
      return;
    }
    case 0x11:  // LOG_STOP
      if (logging) flushRecord();
      logging = false;
      answer(op, 0);
      return;
    case 0x12: {  // LOG_STATUS
      uint8_t p[21];
      p[0] = (logging ? 1 : 0) | (logWrap ? 2 : 0) | (logFull ? 4 : 0);
      put32(p + 1, flashPages * PAGE);
      put32(p + 5, (nextRecord - firstRecord) * PAGE);
      put32(p + 9, firstRecord);
      put32(p + 13, nextRecord);
      put32(p + 17, overwritten);
      uint8_t q[23];
      memcpy(q, p, 21);
      q[21] = 244; q[22] = 0;
      answer(op, 0, q, 23);
      return;
    }
    case 0x13: {  // LOG_READ from u32, count u32 (records go out in loop())
      if (len != 9) { answer(op, 2); return; }
      if (reading) { answer(op, 3); return; }
      uint32_t from = get32(d + 1), count = get32(d + 5);
      readFrom = from < firstRecord ? firstRecord : from;
      readEnd = (count == 0 || nextRecord - readFrom < count) ? nextRecord : readFrom + count;
      reading = true;
      return;
    }
    case 0x14: {  // LOG_ERASE before u32
      if (len != 5) { answer(op, 2); return; }
      uint32_t before = get32(d + 1);
      if (before == 0xFFFFFFFF) { firstRecord = nextRecord = overwritten = 0; logFull = false; }
      else if (before > firstRecord) firstRecord = before < nextRecord ? before : nextRecord;
      uint8_t p[4];
      put32(p, firstRecord);
      answer(op, 0, p, 4);
      return;
    }
  }
  answer(op, 1);
}

// one log record per call while a LOG_READ runs (notify() waits for a free TX buffer)
void serviceLogRead() {
  if (!reading) return;
  if (readFrom >= readEnd) {
    reading = false;
    uint8_t p[4];
    put32(p, readFrom);
    answer(0x13, 0, p, 4);
    return;
  }
  uint8_t buf[244];
  flash.readBuffer((readFrom % flashPages) * PAGE, buf, 16);
  uint8_t n = buf[14];
  if (n < 1 || n > 19) n = 1;  // a torn page still goes out; the host rejects it
  flash.readBuffer((readFrom % flashPages) * PAGE, buf, 16 + 12 * n);
  if (logDataChr.notify(buf, 16 + 12 * n)) readFrom++;
}

void onClockRead(uint16_t conn, BLECharacteristic* chr, ble_gatts_evt_read_t* req) {
  uint64_t now = clockUs();
  uint8_t v[8];
  for (int i = 0; i < 8; i++) v[i] = now >> (8 * i);
  chr->write(v, 8);
}

volatile bool dataReady = false;
volatile uint32_t dataReadyUs = 0;
void onImuInterrupt() {  // timestamp as close to the sample as the MCU can
  dataReadyUs = micros();
  dataReady = true;
}

void setup() {
  imu.begin();
  applyImuConfig();
  pinMode(PIN_LSM6DS3TR_C_INT1, INPUT);
  attachInterrupt(digitalPinToInterrupt(PIN_LSM6DS3TR_C_INT1), onImuInterrupt, RISING);

  flash.begin();
  flashPages = flash.size() / PAGE;  // 2 MB: 8192 records

  Bluefruit.configPrphBandwidth(BANDWIDTH_MAX);  // MTU 247, larger queues
  Bluefruit.begin();
  Bluefruit.setName(CLIP_NAME);
  Bluefruit.Periph.setConnInterval(6, 12);  // 7.5-15 ms
  Bluefruit.Periph.setDisconnectCallback(onDisconnect);

  dis.setManufacturer("runform DIY");
  dis.setModel("XIAO nRF52840 Sense");
  dis.setFirmwareRev(FIRMWARE_VERSION);
  dis.begin();
  bas.begin();
  bas.write(100);

  clipService.begin();
  configChr.setProperties(CHR_PROPS_READ | CHR_PROPS_WRITE);
  configChr.setPermission(SECMODE_OPEN, SECMODE_OPEN);
  configChr.setFixedLen(0);
  configChr.setMaxLen(8);
  configChr.setWriteCallback(onConfigWrite);
  configChr.begin();
  writeConfigValue();

  dataChr.setProperties(CHR_PROPS_NOTIFY);
  dataChr.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  dataChr.setMaxLen(244);
  dataChr.begin();

  logCtrlChr.setProperties(CHR_PROPS_WRITE | CHR_PROPS_NOTIFY);
  logCtrlChr.setPermission(SECMODE_OPEN, SECMODE_OPEN);
  logCtrlChr.setMaxLen(32);
  logCtrlChr.setWriteCallback(onLogControl);
  logCtrlChr.begin();
  logDataChr.setProperties(CHR_PROPS_NOTIFY);
  logDataChr.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  logDataChr.setMaxLen(244);
  logDataChr.begin();
  clockChr.setProperties(CHR_PROPS_READ);
  clockChr.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  clockChr.setFixedLen(8);
  clockChr.setReadAuthorizeCallback(onClockRead);  // the clock is read when asked, not cached
  clockChr.begin();

  Bluefruit.Advertising.addFlags(BLE_GAP_ADV_FLAGS_LE_ONLY_GENERAL_DISC_MODE);
  Bluefruit.Advertising.addService(clipService);
  Bluefruit.Advertising.addName();
  Bluefruit.Advertising.restartOnDisconnect(true);
  Bluefruit.Advertising.setInterval(32, 244);
  Bluefruit.Advertising.start(0);
}

static void put16(uint8_t* p, int16_t v) { p[0] = v & 0xFF; p[1] = (v >> 8) & 0xFF; }

void loop() {
  clockUs();  // keeps the 64-bit clock's wrap detection current
  serviceLogRead();
  if (!dataReady) return;
  noInterrupts();
  uint32_t ts = dataReadyUs;
  dataReady = false;
  interrupts();
  if (logging) {  // log the sample (the 64-bit time of its data-ready interrupt)
    uint64_t now64 = clockUs();
    uint64_t ts64 = now64 - (uint32_t)((uint32_t)now64 - ts);
    if (nInRecord == 0) recFirstUs = ts64;
    uint8_t* r = rec + 16 + 12 * nInRecord;
    put16(r + 0, imu.readRawAccelX());
    put16(r + 2, imu.readRawAccelY());
    put16(r + 4, imu.readRawAccelZ());
    put16(r + 6, imu.readRawGyroX());
    put16(r + 8, imu.readRawGyroY());
    put16(r + 10, imu.readRawGyroZ());
    nInRecord++;
    if (nInRecord == 19) flushRecord();
    return;  // a logging clip does not stream
  }
  if (!streaming) return;

  if (nInPacket == 0) firstTimestampUs = ts;
  uint8_t* s = packet + 10 + 12 * nInPacket;
  put16(s + 0, imu.readRawAccelX());
  put16(s + 2, imu.readRawAccelY());
  put16(s + 4, imu.readRawAccelZ());
  put16(s + 6, imu.readRawGyroX());
  put16(s + 8, imu.readRawGyroY());
  put16(s + 10, imu.readRawGyroZ());
  nInPacket++;

  if (nInPacket >= samplesPerPacket()) {
    packet[0] = PROTOCOL_VERSION;
    packet[1] = accCode | (gyrCode << 4);
    packet[2] = rateCode;
    packet[3] = nInPacket;
    packet[4] = packetCounter & 0xFF;
    packet[5] = packetCounter >> 8;
    packet[6] = firstTimestampUs & 0xFF;
    packet[7] = (firstTimestampUs >> 8) & 0xFF;
    packet[8] = (firstTimestampUs >> 16) & 0xFF;
    packet[9] = (firstTimestampUs >> 24) & 0xFF;
    // a full TX queue drops the packet; the counter still advances so the host sees the gap
    dataChr.notify(packet, 10 + 12 * nInPacket);
    packetCounter++;
    nInPacket = 0;
  }
  // (battery: read the divider on PIN_VBAT every minute and bas.write(percent))
}
