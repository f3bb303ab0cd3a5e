/* The release of the host tools: "X.Y.Z (git describe)", printed by every binary's --version. */
#ifndef FOTA_VERSION_H
#define FOTA_VERSION_H

extern const char fota_version[];

#endif
