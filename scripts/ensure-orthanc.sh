#!/usr/bin/env bash
# Makes sure an Orthanc PACS with its DICOMweb plugin answers on ORTHANC_URL (default
# http://127.0.0.1:18042): the imaging tests and the demo store chest X-rays there and Aegle fetches
# them back over WADO-RS. Installs the Debian packages when they are missing and apt-get may run,
# starts Orthanc (config and storage under .aegle/orthanc, never tracked) when it is stopped.
set -uo pipefail

ORTHANC_PORT=${ORTHANC_PORT:-18042}
ORTHANC_URL=${ORTHANC_URL:-http://127.0.0.1:$ORTHANC_PORT}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${ORTHANC_DIR:-$ROOT/.aegle/orthanc}
PLUGIN=/usr/share/orthanc/plugins/libOrthancDicomWeb.so

dicomweb_up() { curl -fsS -m 2 -o /dev/null "$ORTHANC_URL/dicom-web/studies" 2>/dev/null; }

dicomweb_up && { echo "Orthanc (DICOMweb) is up at $ORTHANC_URL" >&2; exit 0; }

if ! command -v Orthanc >/dev/null 2>&1 || [ ! -f "$PLUGIN" ]; then
  echo "Orthanc or its DICOMweb plugin is not installed; installing orthanc and orthanc-dicomweb" >&2
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends orthanc orthanc-dicomweb >&2 ||
      { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends orthanc orthanc-dicomweb >&2; }
  fi
  if ! command -v Orthanc >/dev/null 2>&1 || [ ! -f "$PLUGIN" ]; then
    echo "Could not install Orthanc: run 'apt-get install orthanc orthanc-dicomweb' as root (Debian/Ubuntu)," >&2
    echo "or point ORTHANC_URL at an Orthanc with the DICOMweb plugin enabled." >&2
    exit 1
  fi
fi

case "$ORTHANC_URL" in
  http://127.0.0.1:* | http://localhost:*) ;;
  *) echo "Orthanc does not answer at $ORTHANC_URL, which is not local: start it there." >&2; exit 1 ;;
esac

echo "Orthanc is not answering on $ORTHANC_URL; starting it (storage in $DIR)" >&2
mkdir -p "$DIR/db"
cat >"$DIR/orthanc.json" <<EOF
{
  "Name": "aegle-test-pacs",
  "StorageDirectory": "$DIR/db",
  "IndexDirectory": "$DIR/db",
  "HttpPort": $ORTHANC_PORT,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "DicomServerEnabled": false,
  "HttpThreadsCount": 8,
  "ConcurrentJobs": 1,
  "SaveJobs": false,
  "Plugins": ["$PLUGIN"],
  "DicomWeb": { "Enable": true, "Root": "/dicom-web/", "EnableWado": false }
}
EOF
nohup Orthanc "$DIR/orthanc.json" >"$DIR/orthanc.log" 2>&1 &
for _ in $(seq 1 40); do dicomweb_up && { echo "Orthanc (DICOMweb) is up at $ORTHANC_URL" >&2; exit 0; }; sleep 0.5; done
echo "Orthanc did not start: see $DIR/orthanc.log" >&2
tail -n 20 "$DIR/orthanc.log" >&2
exit 1
