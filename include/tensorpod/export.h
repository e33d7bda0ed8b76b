/* Symbol visibility for the tensorpod shared library. */
#ifndef TENSORPOD_EXPORT_H_
#define TENSORPOD_EXPORT_H_

#if defined(TP_BUILDING_LIBRARY)
#define TP_API __attribute__((visibility("default")))
#else
#define TP_API
#endif

#endif /* TENSORPOD_EXPORT_H_ */
