/** The XML namespaces and key-type scopes of SMPTE ST 430-1/430-3 KDMs: the reader checks them, the writer writes them. */
export const NS_ETM = 'http://www.smpte-ra.org/schemas/430-3/2006/ETM';
export const NS_KDM = 'http://www.smpte-ra.org/schemas/430-1/2006/KDM';
export const NS_DS = 'http://www.w3.org/2000/09/xmldsig#';
export const NS_ENC = 'http://www.w3.org/2001/04/xmlenc#';
export const KDM_MESSAGE_TYPE = 'http://www.smpte-ra.org/430-1/2006/KDM#kdm-key-type';
export const KEY_TYPE_SCOPE = 'http://www.smpte-ra.org/430-1/2006/KDM#kdm-key-type';
export const DOLBY_KEY_TYPE_SCOPE = 'http://www.dolby.com/cp850/2012/KDM#kdm-key-type';
