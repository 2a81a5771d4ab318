// runform DIY clip: reference firmware for the Seeed XIAO nRF52840 Sense (on-board LSM6DS3TR-C).
//
// Documentation of the protocol in docs/protocol.md (version 1), not a tested product: build it
// with the "Seeed nRF52 Boards" Arduino core (Adafruit Bluefruit library) and the
// "Seeed Arduino LSM6DS3" library, and check it against `runform scan` / `runform record`.
//
// Advertises "rfclip-L" (change CLIP_NAME per clip, at most 8 characters) with the runform
// service UUID; streams packets of N samples (header + N x 12 bytes) on the data
// characteristic after a START command; battery and firmware via the standard services.

#include <bluefruit.h>
#include <LSM6DS3.h>
#include <Wire.h>

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

BLEService clipService(UUID_SERVICE);
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

void onDisconnect(uint16_t conn, uint8_t reason) { streaming = false; }

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

  Bluefruit.Advertising.addFlags(BLE_GAP_ADV_FLAGS_LE_ONLY_GENERAL_DISC_MODE);
  Bluefruit.Advertising.addService(clipService);
  Bluefruit.Advertising.addName();
  Bluefruit.Advertising.restartOnDisconnect(true);
  Bluefruit.Advertising.setInterval(32, 244);
  Bluefruit.Advertising.start(0);
}

static void put16(uint8_t* p, int16_t v) { p[0] = v & 0xFF; p[1] = (v >> 8) & 0xFF; }

void loop() {
  if (!dataReady) return;
  noInterrupts();
  uint32_t ts = dataReadyUs;
  dataReady = false;
  interrupts();
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
